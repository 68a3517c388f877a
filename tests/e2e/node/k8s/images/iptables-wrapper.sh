#!/bin/sh
# Installed as iptables, ip6tables and their -save/-restore names. On first use it
# picks the backend the node already uses: the one holding the kubelet's
# KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chains; without them, the one holding
# more rules (nft on a tie). It then points those names at that backend and runs
# the command asked for.
# (no "-t mangle": naming a legacy table would create it, and iptables-nft would then
# warn "iptables-legacy tables present" on every call)
kubelet_chains() { "$1" 2>/dev/null | grep -qE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY) '; }
if kubelet_chains iptables-legacy-save || kubelet_chains ip6tables-legacy-save; then
  mode=legacy
elif kubelet_chains iptables-nft-save || kubelet_chains ip6tables-nft-save; then
  mode=nft
else
  legacy=$( (iptables-legacy-save; ip6tables-legacy-save) 2>/dev/null | grep -c '^-' )
  nft=$( (iptables-nft-save; ip6tables-nft-save) 2>/dev/null | grep -c '^-' )
  mode=nft
  [ "${legacy:-0}" -gt "${nft:-0}" ] && mode=legacy
fi
for c in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf "xtables-$mode-multi" "/usr/sbin/$c.new" && mv -f "/usr/sbin/$c.new" "/usr/sbin/$c"
done
exec "/usr/sbin/${0##*/}" "$@"
