# Our kindnetd stand-in plus the same iptables userland as kube-proxy's image.
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/bin/kindnetd"]
