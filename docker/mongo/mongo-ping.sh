#!/bin/bash
# MongoDB readiness check without a client: OP_MSG {ping: 1, $db: "admin"} over bash's /dev/tcp, expects {ok: 1.0}
# (the same check as scripts/test-servers.sh). Usage: mongo-ping [HOST] [PORT]; exit 0 when the server answers ok.
host="${1:-127.0.0.1}" port="${2:-27017}"
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf '\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00' >&3
reply=$(timeout 5 dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n')
[[ $reply == *016f6b00000000000000f03f* ]]
