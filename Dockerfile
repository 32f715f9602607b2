# fanout: built with the same scripts the README and CI use (scripts/deps.sh, scripts/build.sh),
# run on bookworm-slim as a non-root user (uid 1985).
#   docker build -t fanout .
#   docker run --rm -p 1985:1985/tcp -p 1990:1990/tcp -p 8000:8000/udp -p 8000:8000/tcp \
#     -e CANDIDATE=<address browsers reach> -v fanout-state:/var/lib/fanout fanout
# Settings: FANOUT_<SECTION>_<KEY> environment variables (see `docker run --rm fanout --help`),
# or mount a config file over /etc/fanout/fanout.conf.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/
RUN scripts/deps.sh
COPY . .
# The tests need cmocka and run in CI (scripts/test.sh), not here.
RUN rm -rf build && scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DFO_TESTS=OFF \
 && build/fanout --version

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libsrtp2-1 libmbedtls14 libmbedx509-1 libmbedcrypto7 libmicrohttpd12 libjansson4 \
      libnice10 libinih1 libnettle8 libcurl3-gnutls libavformat59 libavcodec59 libavutil57 \
      libhiredis0.14 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1985 fanout \
 && useradd --uid 1985 --gid fanout --no-create-home --home-dir /var/lib/fanout --shell /usr/sbin/nologin fanout \
 && install -d -o fanout -g fanout -m 0750 /var/lib/fanout
COPY --from=build /src/build/fanout /usr/local/bin/fanout
COPY www /usr/share/fanout/www
# The shipped configuration with the image's paths: pages from /usr/share/fanout/www, the HTTPS
# certificate (generated at first start unless you mount one) in /var/lib/fanout, the only
# directory the fanout user may write. Paths go in the file, not in ENV, so that a mounted
# config file is not overridden by the image.
COPY conf/fanout.conf /etc/fanout/fanout.conf
RUN sed -i -e 's|^www = .*|www = /usr/share/fanout/www|' \
           -e 's|^cert = .*|cert = /var/lib/fanout/https.crt|' \
           -e 's|^key = .*|key = /var/lib/fanout/https.key|' \
           -e 's|^dir = recordings|dir = /var/lib/fanout/recordings|' /etc/fanout/fanout.conf \
 && grep -q '^www = /usr/share/fanout/www' /etc/fanout/fanout.conf \
 && grep -q '^cert = /var/lib/fanout/https.crt' /etc/fanout/fanout.conf \
 && grep -q '^key = /var/lib/fanout/https.key' /etc/fanout/fanout.conf \
 && /usr/local/bin/fanout -c /etc/fanout/fanout.conf --version
WORKDIR /var/lib/fanout
USER 1985:1985
# HTTP (API + pages), HTTPS (the same, for camera access from other machines), media (all
# WebRTC sessions on one UDP port). The UDP port must be published 1:1 and CANDIDATE set to the
# address browsers reach it at (the host's public/LAN address), e.g. -e CANDIDATE=203.0.113.7.
EXPOSE 1985/tcp 1990/tcp 8000/udp 8000/tcp
# /api/v1/versions: the operator API's cheapest endpoint. Follows FANOUT_HTTP_PORT if set.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${FANOUT_HTTP_PORT:-1985}/api/v1/versions" || exit 1
ENTRYPOINT ["/usr/local/bin/fanout", "-c", "/etc/fanout/fanout.conf"]
