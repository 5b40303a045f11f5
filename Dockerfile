# syntax=docker/dockerfile:1
# The broker's production image, in stages:
#   build    — the workspace with dev dependencies; apps/broker/scripts/build.mjs bundles the broker
#              to JavaScript and deploys it with production dependencies only (`pnpm deploy --prod`)
#   sandbox  — the whole demo (broker + sandbox bank + Messenger simulator), for compose's
#              `sandbox` profile; runs TypeScript through tsx, never for production
#   runtime  — the default: compiled JavaScript on plain node, tini as PID 1, non-root, HEALTHCHECK

FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN npm install -g pnpm@12
COPY . .
RUN pnpm install --frozen-lockfile
RUN node apps/broker/scripts/build.mjs /app

FROM build AS sandbox
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /src/.data && chown node:node /src/.data
USER node
ENV HOST=0.0.0.0 SANDBOX_HOST=0.0.0.0
EXPOSE 3000 4000 4001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "scripts/start.ts"]

FROM node:20-bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build --chown=root:root /app /app
RUN mkdir -p /app/.data && chown node:node /app/.data
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
# Memory (README "Running in production"): glibc gives each thread that allocates its own malloc
# arena, which the thread pool (ES256 signing) and V8's compiler threads fill under load and keep;
# two arenas measured about 40 MB less peak RSS. MALLOC_MMAP_THRESHOLD_=32768: blocks of 32 KB and
# more (V8's compiler zones, most of them at start-up) are mapped on their own and returned when
# freed, instead of staying in the heap that glibc does not shrink; measured 100 against 107 MB
# 3 s after ready and 117-120 against 122-133 MB at the peak of introspection load, with no
# change in its throughput; start-up takes about 0.3-0.6 s longer (README "Running in production").
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768
EXPOSE 3000
USER node
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1: it passes SIGTERM to node (graceful shutdown) and reaps zombies.
ENTRYPOINT ["/usr/bin/tini", "--"]
# --max-semi-space-size=4: V8 lets each young-generation semi-space grow to 16 MB by default and
# keeps it committed, mostly empty between scavenges; 4 MB measured about 25 MB less RSS idle and
# under load (bench/deployed.bench.ts starts the broker with this CMD's options and ENV).
# --max-old-space-size=128: V8 otherwise lets garbage pile up to ~170 MB of heap under refresh and
# linking load (the live heap after it is ~45 MB); with 128 the peak RSS there measured 150 MB
# instead of 255, for ~10-15% more CPU per refresh. BROKER_MAX_HEAP_USED_MB (90% of this limit by
# default) sheds load before the heap could run out.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=128", "dist/main.js"]
