# kube-proxy plus Debian's iptables (nft and legacy backends, picked at first use
# by our iptables-wrapper), conntrack, nft and busybox.
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
