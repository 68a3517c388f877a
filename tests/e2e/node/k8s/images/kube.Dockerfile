# kube-apiserver, kube-controller-manager, kube-scheduler: one static binary.
FROM scratch
ARG BIN
COPY root/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
