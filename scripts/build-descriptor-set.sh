#!/usr/bin/env bash
# Writes gen/recsys.binpb (part of `npm run generate`): the FileDescriptorSet that server reflection serves
# (lib/src/grpc/server.ts). It holds proto/ with every file it imports (google/protobuf/timestamp.proto), plus
# grpc.health.v1 and grpc.reflection.v1/v1alpha compiled from the .proto files of the packages that implement them
# (grpc-health-check, @grpc/reflection), all compiled by buf. A FileDescriptorSet is a single repeated field, so the
# concatenation of several sets is one set.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
buf build -o "$tmp/recsys.binpb"
buf build node_modules/grpc-health-check/proto -o "$tmp/health.binpb"
reflection=node_modules/@grpc/reflection/build/proto
buf build "$reflection" --path "$reflection/grpc/reflection" -o "$tmp/reflection.binpb"
cat "$tmp/recsys.binpb" "$tmp/health.binpb" "$tmp/reflection.binpb" >gen/recsys.binpb
