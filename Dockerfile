# fanout: build with the same scripts the README uses, run on bookworm-slim as a non-root user.
#   docker build -t fanout .
#   docker run --rm -p 1985:1985/tcp -p 8000:8000/udp -e CANDIDATE=<address browsers reach> fanout
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/
RUN scripts/deps.sh
COPY . .
RUN rm -rf build && scripts/build.sh build -DCMAKE_BUILD_TYPE=Release

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libsrtp2-1 libmbedtls14 libmbedx509-1 libmbedcrypto7 libmicrohttpd12 libjansson4 \
      libnice10 libinih1 libcurl3-gnutls curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /usr/share/fanout --shell /usr/sbin/nologin fanout
COPY --from=build /src/build/fanout /usr/local/bin/fanout
COPY conf/fanout.conf /etc/fanout/fanout.conf
COPY www /usr/share/fanout/www
WORKDIR /usr/share/fanout
USER fanout
EXPOSE 1985/tcp 8000/udp
ENV FANOUT_HTTP_WWW=/usr/share/fanout/www
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS -o /dev/null -X OPTIONS http://127.0.0.1:1985/rtc/v1/play/ || exit 1
ENTRYPOINT ["/usr/local/bin/fanout", "-c", "/etc/fanout/fanout.conf"]
