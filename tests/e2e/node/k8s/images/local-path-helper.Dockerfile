# sh, mkdir, rm (what the provisioner's helper pod runs): Debian's busybox-static.
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
