# The upstream image runs as nonroot with a file capability on /coredns; this one
# runs as root (kubeadm's pod spec drops all capabilities but NET_BIND_SERVICE).
FROM scratch
COPY root/ /
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
