FROM scratch
COPY root/ /
USER 65535:65535
ENTRYPOINT ["/pause"]
