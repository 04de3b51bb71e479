# syntax=docker/dockerfile:1
# The giving service: `api` (server, CLI, migrations) and `mailer` (the outbox worker) in
# one small image. Build: docker build -t giving .
# Run: see compose.yaml (PostgreSQL, the API and a separate mailer).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The same flags the CI check uses: the locked dependency set, release profile, only
# the two binaries the image ships.
COPY . .
RUN cargo build --release --locked -p api -p mailer \
 && strip target/release/api target/release/mailer

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/giving --create-home giving
COPY --from=build /src/target/release/api /src/target/release/mailer /usr/local/bin/
USER giving
WORKDIR /var/lib/giving
ENV LISTEN_ADDR=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/giving/giving.db?mode=rwc \
    MAIL_DIR=/var/lib/giving/mail \
    LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/giving"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["api"]
CMD ["serve"]
