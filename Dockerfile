# stepstream in a container: the one executable `bun run build` makes, on Debian's slim image (it needs glibc and
# nothing else: `ldd dist/stepstream` lists libc, libpthread, libdl and libm), run as a user that is not root, its
# SQLite database in the volume /data.
#
#   docker build -t stepstream .             (podman build --format docker: its default OCI format drops HEALTHCHECK)
#   docker run -p 8080:8080 -v stepstream-data:/data stepstream
#   docker run -p 8080:8080 -v stepstream-data:/data -e OPENAI_API_KEY stepstream --step openai --model gpt-4o-mini
#
# Arguments after the image name are stepstream's flags; the defaults below are environment variables, so adding a
# flag does not drop them (a flag beats its variable). compose.yaml runs two of these on one Redis behind nginx.
# test/unit/container.test.ts checks what this file promises with the real flag parser.

ARG BUN_VERSION=1.4.5

FROM docker.io/oven/bun:${BUN_VERSION} AS build
WORKDIR /src
# The dependencies first, in a layer of their own: a change to the source does not install them again. The bundle
# needs only the runtime ones.
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production
COPY tsconfig.json ./
COPY scripts scripts
COPY public public
COPY templates templates
COPY src src
# No .git in the build context (.dockerignore): `stepstream --version` says "(unknown)" for the commit.
RUN bun run build

FROM docker.io/library/debian:bookworm-slim
# A fixed uid, so that a volume's owner and Kubernetes' runAsNonRoot can check it; /data belongs to it before the
# volume is mounted, so a new named volume starts with that owner.
RUN groupadd --system --gid 10001 stepstream \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin stepstream \
    && mkdir /data \
    && chown stepstream:stepstream /data
COPY --from=build /src/dist/stepstream /usr/local/bin/stepstream
USER 10001:10001
WORKDIR /data
VOLUME /data
ENV STEPSTREAM_HOST=0.0.0.0 \
    STEPSTREAM_PORT=8080 \
    STEPSTREAM_STORE=sqlite:/data/stepstream.db
EXPOSE 8080
# The executable checks itself: with BUN_BE_BUN=1 a Bun executable runs as the Bun it embeds, so /healthz is asked
# with fetch and no curl or wget is added to the image. It answers 200 without a token, with auth on too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["env", "BUN_BE_BUN=1", "/usr/local/bin/stepstream", "-e", "fetch('http://127.0.0.1:' + process.env.STEPSTREAM_PORT + '/healthz').then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))"]
# stepstream stops on SIGTERM (the engine's stop) and SIGINT: running chats are interrupted, and it exits within
# --cancel-grace + 3 s, less than the engines' 10 s.
ENTRYPOINT ["/usr/local/bin/stepstream"]
