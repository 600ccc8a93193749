/*
 * offload-oo-h2load: a cheap load driver for batched openoffload.v1 adds
 * (SessionTable/addSession, a client stream of sessionRequest), written on
 * libnghttp2 alone so that it costs far less CPU per session than the server
 * it measures (the gRPC C++ client of offload-oo-loadgen costs ~11 us each).
 *
 * One HTTP/2 connection (cleartext, prior knowledge). --concurrency streams
 * in flight; each stream carries one batch of --batch sessions with the
 * client ids --first-id, --first-id+1, ... (--n in all), as length-prefixed
 * gRPC messages in DATA with END_STREAM: by default packed into as few
 * DATA frames and writes as flow control allows; with --frame-per-message
 * one DATA frame per message, each in a write of its own, the way a gRPC
 * client's one Write() per message reaches the server (costlier for both
 * ends: a TCP segment per session). The sessionRequests are protobuf
 * encoded here by hand, with the fields of offload-oo-loadgen's
 * fill_request; each answer is checked (:status 200, grpc-status 0) and its
 * addSessionResponse decoded to count per-session errors by errorStatus.
 *
 * Prints one JSON line with the keys of offload-oo-loadgen's add scenario,
 * plus driver_cpu_us_per_session (its own getrusage user+sys / sessions).
 *
 * Exit codes: 0 run completed (per-session errors are counted), 1 usage
 * error, 2 server unreachable, 3 a call or the connection failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 64
#define MAX_MSG 64 /* bytes of one encoded sessionRequest: at most ~45 */

static struct {
  const char *target;
  uint64_t n, first_id;
  int batch, concurrency, deadline_ms, frame_per_message;
} opt = {"127.0.0.1:3443", 100000, 1, 64, 1, 10000, 0};

/* One stream slot: the batch it sends and the answer it collects. */
struct stream {
  int busy;
  uint64_t count;
  uint8_t *req;
  size_t req_len, req_off, msg_left;
  uint8_t *resp;
  size_t resp_len, resp_cap;
  int http_status, grpc_status;
  char grpc_message[256];
  double t0;
};

static struct {
  uint64_t sessions, batches, dup, full, invalid, other;
  double *latency_us;
} tot;

static struct stream *slots;
static int inflight;

static void usage(int code) {
  fprintf(code == 0 ? stdout : stderr,
          "usage: offload-oo-h2load [add] [--target HOST:PORT] [--n N] [--first-id ID] [--batch B (1..64)]\n"
          "         [--concurrency C] [--deadline-ms MS] [--frame-per-message]\n");
  exit(code);
}

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("offload-oo-h2load: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(3);
}

static uint64_t number(const char *s) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != 0 || errno != 0) usage(1);
  return v;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- protobuf, by hand (proto/openoffload/v1/openoffload.proto) */

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* struct in_addr.s_addr of a.b.c.d on a little-endian host (as offload-oo-loadgen). */
static uint32_t in_addr_of(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return a | (b << 8) | (c << 16) | (d << 24);
}

/* One gRPC message (5-byte prefix + sessionRequest) of offload-oo-loadgen's fill_request; answers its end. */
static uint8_t *put_request(uint8_t *out, uint64_t id) {
  uint8_t *p = out + 5;
  p = put_varint(p, 1 << 3), p = put_varint(p, id);                 /* sessionId */
  *p++ = 2 << 3, *p++ = 1;                                          /* inLif 1 */
  *p++ = 3 << 3, *p++ = 2;                                          /* outLif 2 */
  /* ipVersion _IPV4 = 0: the default, not sent */
  p = put_varint(p, 5 << 3), p = put_varint(p, in_addr_of(10, (id >> 16) & 255, (id >> 8) & 255, id & 255));
  p = put_varint(p, 7 << 3), p = put_varint(p, 1024 + ((id >> 24) & 0x3fff)); /* sourcePort */
  p = put_varint(p, 8 << 3), p = put_varint(p, in_addr_of(192, 0, 2, 1));      /* destinationIp */
  p = put_varint(p, 10 << 3), p = put_varint(p, 443);                          /* destinationPort */
  *p++ = 11 << 3, *p++ = 6;                                                    /* protocolId _TCP */
  *p++ = (12 << 3) | 2, *p++ = 2, *p++ = 1 << 3, *p++ = 1;                     /* action { _FORWARD } */
  uint32_t len = (uint32_t)(p - out - 5);
  out[0] = 0, out[1] = len >> 24, out[2] = len >> 16, out[3] = len >> 8, out[4] = (uint8_t)len;
  return p;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

/* Skips a field of wire type `wt`; -1 on malformed input. */
static int skip_field(const uint8_t **p, const uint8_t *end, unsigned wt) {
  uint64_t v;
  switch (wt) {
    case 0: return get_varint(p, end, &v);
    case 1: if (end - *p < 8) return -1; *p += 8; return 0;
    case 2: if (get_varint(p, end, &v) || (uint64_t)(end - *p) < v) return -1; *p += v; return 0;
    case 5: if (end - *p < 4) return -1; *p += 4; return 0;
    default: return -1;
  }
}

/* Counts the responseError entries (field 4) of an addSessionResponse by errorStatus (their field 2). */
static int count_errors(const uint8_t *p, const uint8_t *end) {
  uint64_t key, len, v;
  while (p < end) {
    if (get_varint(&p, end, &key)) return -1;
    if (key != ((4 << 3) | 2)) {
      if (skip_field(&p, end, key & 7)) return -1;
      continue;
    }
    if (get_varint(&p, end, &len) || (uint64_t)(end - p) < len) return -1;
    const uint8_t *q = p, *qend = p + len;
    int32_t status = 0;
    while (q < qend) {
      if (get_varint(&q, qend, &key)) return -1;
      if (key == ((2 << 3) | 0)) {
        if (get_varint(&q, qend, &v)) return -1;
        status = (int32_t)v;
      } else if (skip_field(&q, qend, key & 7)) {
        return -1;
      }
    }
    if (status == 6) tot.dup++;
    else if (status == 8) tot.full++;
    else if (status == 3) tot.invalid++;
    else tot.other++;
    p = qend;
  }
  return 0;
}

/* ---- nghttp2 callbacks */

static ssize_t read_request(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                            nghttp2_data_source *src, void *user) {
  (void)s, (void)id, (void)user;
  struct stream *st = src->ptr;
  size_t n = st->req_len - st->req_off;
  if (opt.frame_per_message) { /* DATA frames end where messages do, as gRPC clients send them */
    const uint8_t *m = st->req + st->req_off;
    if (st->msg_left == 0) st->msg_left = 5 + ((size_t)m[1] << 24 | (size_t)m[2] << 16 | (size_t)m[3] << 8 | m[4]);
    if (n > st->msg_left) n = st->msg_left;
  }
  if (n > length) n = length;
  st->msg_left -= opt.frame_per_message ? n : 0;
  memcpy(buf, st->req + st->req_off, n);
  st->req_off += n;
  if (st->req_off == st->req_len) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user) {
  (void)flags, (void)user;
  struct stream *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
  if (st == NULL) return 0;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    st->http_status = atoi((const char *)value);
  } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
    st->grpc_status = atoi((const char *)value);
  } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
    snprintf(st->grpc_message, sizeof st->grpc_message, "%.*s", (int)valuelen, (const char *)value);
  }
  return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user) {
  (void)flags, (void)user;
  struct stream *st = nghttp2_session_get_stream_user_data(s, id);
  if (st == NULL) return 0;
  if (st->resp_len + len > st->resp_cap) {
    while (st->resp_len + len > st->resp_cap) st->resp_cap = st->resp_cap ? st->resp_cap * 2 : 4096;
    st->resp = realloc(st->resp, st->resp_cap);
    if (st->resp == NULL) fail("out of memory");
  }
  memcpy(st->resp + st->resp_len, data, len);
  st->resp_len += len;
  return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user) {
  (void)user;
  struct stream *st = nghttp2_session_get_stream_user_data(s, id);
  if (st == NULL) return 0;
  if (error_code != 0) fail("addSession stream %d reset (HTTP/2 error %u)", id, error_code);
  if (st->http_status != 200) fail("addSession: HTTP status %d", st->http_status);
  if (st->grpc_status != 0) fail("addSession: grpc-status %d %s", st->grpc_status, st->grpc_message);
  /* The answer: one length-prefixed, uncompressed addSessionResponse. */
  const uint8_t *r = st->resp;
  if (st->resp_len < 5 || r[0] != 0) fail("addSession: no (uncompressed) answer message");
  size_t len = (size_t)r[1] << 24 | (size_t)r[2] << 16 | (size_t)r[3] << 8 | r[4];
  if (st->resp_len != 5 + len || count_errors(r + 5, r + 5 + len)) fail("addSession: malformed answer");
  tot.latency_us[tot.batches++] = now_us() - st->t0;
  tot.sessions += st->count;
  st->busy = 0;
  inflight--;
  return 0;
}

/* ---- the run */

static int connect_to(const char *target) {
  char host[256];
  const char *colon = strrchr(target, ':');
  if (colon == NULL || (size_t)(colon - target) >= sizeof host) usage(1);
  snprintf(host, sizeof host, "%.*s", (int)(colon - target), target);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
  if (getaddrinfo(host, colon + 1, &hints, &res) != 0) return -1;
  int fd = -1;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* Starts the stream of ids [first, first + count) in a free slot. */
static void submit_batch(nghttp2_session *s, uint64_t first, uint64_t count) {
  static char timeout[24]; /* grpc-timeout; header values are not copied: they must outlive the stream */
  if (timeout[0] == 0) snprintf(timeout, sizeof timeout, "%dm", opt.deadline_ms);
  struct stream *st = slots;
  while (st->busy) st++;
  uint8_t *p = st->req;
  for (uint64_t i = 0; i < count; i++) p = put_request(p, first + i);
  st->busy = 1, st->count = count, st->req_len = (size_t)(p - st->req), st->req_off = 0, st->msg_left = 0;
  st->resp_len = 0, st->http_status = 0, st->grpc_status = -1, st->grpc_message[0] = 0;
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE}
  nghttp2_nv hdrs[] = {
      NV(":method", "POST"),
      NV(":scheme", "http"),
      NV(":authority", opt.target),
      NV(":path", "/openoffload.v1.SessionTable/addSession"),
      NV("content-type", "application/grpc"),
      NV("te", "trailers"),
      NV("grpc-timeout", timeout),
      NV("user-agent", "offload-oo-h2load"),
  };
#undef NV
  nghttp2_data_provider data = {.source = {.ptr = st}, .read_callback = read_request};
  st->t0 = now_us();
  int32_t id = nghttp2_submit_request(s, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &data, st);
  if (id < 0) fail("submit: %s", nghttp2_strerror(id));
  inflight++;
}

static double percentile(double *v, uint64_t n, double p) {
  if (n == 0) return 0;
  /* offload-oo-loadgen's: the ceil(p% of n)-th smallest */
  double rank = p / 100.0 * (double)n;
  uint64_t c = (uint64_t)rank;
  if ((double)c < rank) c++;
  uint64_t i = c == 0 ? 0 : c - 1;
  return v[i < n ? i : n - 1];
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(0);
    if (!strcmp(a, "add") && i == 1) continue;
    if (!strcmp(a, "--frame-per-message")) {
      opt.frame_per_message = 1;
      continue;
    }
    if (v == NULL) usage(1);
    else if (!strcmp(a, "--target")) opt.target = v;
    else if (!strcmp(a, "--n")) opt.n = number(v);
    else if (!strcmp(a, "--first-id")) opt.first_id = number(v);
    else if (!strcmp(a, "--batch")) opt.batch = (int)number(v);
    else if (!strcmp(a, "--concurrency")) opt.concurrency = (int)number(v);
    else if (!strcmp(a, "--deadline-ms")) opt.deadline_ms = (int)number(v);
    else usage(1);
    i++;
  }
  if (opt.n == 0 || opt.batch < 1 || opt.batch > MAX_BATCH || opt.concurrency < 1 || opt.concurrency > 1024 || opt.first_id == 0 ||
      opt.deadline_ms < 1 || opt.deadline_ms > 99999999)
    usage(1);

  int fd = connect_to(opt.target);
  if (fd < 0) {
    printf("{\"ok\":false,\"error\":\"unreachable\",\"target\":\"%s\"}\n", opt.target);
    return 2;
  }
  slots = calloc((size_t)opt.concurrency, sizeof *slots);
  tot.latency_us = malloc(sizeof(double) * (opt.n / (uint64_t)opt.batch + 1));
  for (int c = 0; c < opt.concurrency; c++) slots[c].req = malloc((size_t)opt.batch * (5 + MAX_MSG));
  if (slots == NULL || tot.latency_us == NULL) fail("out of memory");

  nghttp2_session_callbacks *cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
  nghttp2_session *session;
  nghttp2_session_client_new(&session, cbs, NULL);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, 2);

  static uint8_t out[1 << 18], in[1 << 16];
  size_t out_len = 0, out_off = 0;
  uint64_t next = opt.first_id, end = opt.first_id + opt.n;
  double start = now_us();
  while (tot.sessions < opt.n) {
    while (inflight < opt.concurrency && next < end) {
      uint64_t count = end - next < (uint64_t)opt.batch ? end - next : (uint64_t)opt.batch;
      submit_batch(session, next, count);
      next += count;
    }
    /* Gather what nghttp2 has to send (several frames) into one write; --frame-per-message: one frame a write. */
    if (out_off == out_len) out_off = out_len = 0;
    int more = 0;
    for (;;) {
      if (out_len >= sizeof out / 2 || (opt.frame_per_message && out_len > 0)) {
        more = 1;
        break;
      }
      const uint8_t *chunk;
      ssize_t n = nghttp2_session_mem_send(session, &chunk);
      if (n < 0) fail("send: %s", nghttp2_strerror((int)n));
      if (n == 0) break;
      if (out_len + (size_t)n > sizeof out) fail("send: frame larger than the buffer");
      memcpy(out + out_len, chunk, (size_t)n);
      out_len += (size_t)n;
    }
    if (out_off < out_len) {
      ssize_t w = write(fd, out + out_off, out_len - out_off);
      if (w < 0 && errno != EAGAIN && errno != EINTR) fail("write: %s", strerror(errno));
      if (w > 0) out_off += (size_t)w;
    }
    if (!nghttp2_session_want_read(session) && !nghttp2_session_want_write(session) && out_off == out_len)
      fail("the server closed the session (GOAWAY) after %llu sessions", (unsigned long long)tot.sessions);
    struct pollfd pfd = {.fd = fd, .events = POLLIN | (out_off < out_len || more ? POLLOUT : 0)};
    int ready = poll(&pfd, 1, opt.deadline_ms);
    if (ready == 0) fail("no progress for %d ms", opt.deadline_ms);
    if (ready < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(fd, in, sizeof in);
      if (r == 0) fail("the server closed the connection after %llu sessions", (unsigned long long)tot.sessions);
      if (r < 0 && errno != EAGAIN && errno != EINTR) fail("read: %s", strerror(errno));
      if (r > 0) {
        ssize_t used = nghttp2_session_mem_recv(session, in, (size_t)r);
        if (used < 0) fail("HTTP/2: %s", nghttp2_strerror((int)used));
      }
    }
  }
  double seconds = (now_us() - start) / 1e6;
  nghttp2_session_terminate_session(session, NGHTTP2_NO_ERROR);
  const uint8_t *chunk;
  for (ssize_t n; (n = nghttp2_session_mem_send(session, &chunk)) > 0;)
    if (write(fd, chunk, (size_t)n) < 0) break;
  nghttp2_session_del(session);
  close(fd);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  uint64_t failed = tot.dup + tot.full + tot.invalid + tot.other;
  qsort(tot.latency_us, tot.batches, sizeof(double), cmp_double);
  double *l = tot.latency_us;
  printf("{\"scenario\":\"oo-add\",\"target\":\"%s\",\"concurrency\":%d,\"batch\":%d,\"sessions\":%llu,\"ops\":%llu,"
         "\"seconds\":%.6f,\"ops_per_s\":%.1f,\"sessions_per_s\":%.1f,"
         "\"failed\":{\"alreadyExists\":%llu,\"tableFull\":%llu,\"invalid\":%llu,\"other\":%llu},"
         "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"mean\":0},"
         "\"grpc_status\":{\"OK\":%llu},\"request_status\":{},\"errors\":0,\"ok\":%s,"
         "\"driver_cpu_us_per_session\":%.3f}\n",
         opt.target, opt.concurrency, opt.batch, (unsigned long long)tot.sessions, (unsigned long long)tot.batches,
         seconds, tot.batches / seconds, tot.sessions / seconds, (unsigned long long)tot.dup,
         (unsigned long long)tot.full, (unsigned long long)tot.invalid, (unsigned long long)tot.other,
         percentile(l, tot.batches, 50), percentile(l, tot.batches, 90), percentile(l, tot.batches, 99),
         percentile(l, tot.batches, 100), (unsigned long long)tot.batches, failed == 0 ? "true" : "false",
         tot.sessions ? cpu_us / (double)tot.sessions : 0.0);
  return 0;
}
