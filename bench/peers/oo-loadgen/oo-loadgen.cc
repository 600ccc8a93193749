// offload-oo-loadgen: a load generator for the second generation of the
// session offload API (openoffload.v1), built from the repository's proto/.
//
// One scenario per invocation; prints exactly one JSON line on stdout.
//   add    --n sessions with client ids --first-id, --first-id+1, ... sent in
//          addSession streams of --batch sessions (the reference client sends
//          64), --concurrency streams at once (one thread each, one channel)
//   page   walks getAllSessions with --page-size from startSession 4294967295
//          (the reference client's start) until an empty page, after
//          --prefill untimed batched adds
// The gRPC C++ sync API: each thread writes its stream, half-closes, waits
// for the answer, and starts the next.
//
// Exit codes: 0 run completed (non-OK statuses are counted), 1 usage error,
//             2 server unreachable or TLS setup failed, 3 a call failed.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "openoffload/v1/openoffload.grpc.pb.h"

namespace pb = openoffload::v1;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string scenario;
  std::string target = "127.0.0.1:3443";
  uint64_t n = 100000;
  uint64_t first_id = 1;
  int batch = 64;
  int concurrency = 1;
  uint32_t page_size = 64;
  uint64_t prefill = 0;
  int deadline_ms = 10000;
  std::string tls_ca;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: offload-oo-loadgen add|page [--target HOST:PORT] [--n N] [--first-id ID]\n"
               "         [--batch B (1..64)] [--concurrency C] [--page-size P] [--prefill N]\n"
               "         [--deadline-ms MS] [--tls-ca FILE]\n");
  std::exit(code);
}

uint64_t number(const char* s) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != 0) usage(1);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) usage(1);
      return argv[++i];
    };
    if (a == "--help" || a == "-h") usage(0);
    else if (a == "--target") o.target = next();
    else if (a == "--n") o.n = number(next());
    else if (a == "--first-id") o.first_id = number(next());
    else if (a == "--batch") o.batch = static_cast<int>(number(next()));
    else if (a == "--concurrency") o.concurrency = static_cast<int>(number(next()));
    else if (a == "--page-size") o.page_size = static_cast<uint32_t>(number(next()));
    else if (a == "--prefill") o.prefill = number(next());
    else if (a == "--deadline-ms") o.deadline_ms = static_cast<int>(number(next()));
    else if (a == "--tls-ca") o.tls_ca = next();
    else if (o.scenario.empty() && (a == "add" || a == "page")) o.scenario = a;
    else usage(1);
  }
  if (o.scenario.empty() || o.batch < 1 || o.batch > 64 || o.concurrency < 1 || o.first_id == 0) usage(1);
  return o;
}

// struct in_addr.s_addr of a.b.c.d on a little-endian host.
uint32_t in_addr_of(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a | (b << 8) | (c << 16) | (d << 24); }

// A session whose 7-tuple is distinct for each id (the id spread over the source address and port).
void fill_request(pb::sessionRequest* r, uint64_t id) {
  r->set_sessionid(id);
  r->set_inlif(1);
  r->set_outlif(2);
  r->set_ipversion(pb::_IPV4);
  r->set_sourceip(in_addr_of(10, (id >> 16) & 255, (id >> 8) & 255, id & 255));
  r->set_sourceport(1024 + ((id >> 24) & 0x3fff));
  r->set_destinationip(in_addr_of(192, 0, 2, 1));
  r->set_destinationport(443);
  r->set_protocolid(pb::_TCP);
  r->mutable_action()->set_actiontype(pb::_FORWARD);
}

std::shared_ptr<grpc::Channel> open_channel(const Options& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.tls_ca.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    std::ifstream in(o.tls_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = pem.str();
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(o.target, creds, args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    std::cout << "{\"ok\":false,\"error\":\"unreachable\",\"target\":\"" << o.target << "\"}" << std::endl;
    std::exit(2);
  }
  return channel;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::max(0.0, std::ceil(p / 100.0 * v.size()) - 1));
  return v[std::min(i, v.size() - 1)];
}

struct AddTotals {
  std::atomic<uint64_t> sessions{0}, batches{0}, failed{0}, dup{0}, full{0}, invalid{0}, other{0}, rpc_errors{0};
  std::mutex mu;
  std::vector<double> latency_us;
};

// Sends ids [from, to) in batches of `batch` on streams, one after another.
void add_range(pb::SessionTable::Stub* stub, const Options& o, uint64_t from, uint64_t to, AddTotals* t) {
  std::vector<double> lat;
  pb::sessionRequest r;
  for (uint64_t id = from; id < to;) {
    uint64_t end = std::min(to, id + static_cast<uint64_t>(o.batch));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o.deadline_ms));
    pb::addSessionResponse answer;
    auto start = Clock::now();
    auto writer = stub->addSession(&ctx, &answer);
    for (uint64_t i = id; i < end; i++) {
      fill_request(&r, i);
      if (!writer->Write(r)) break;
    }
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!status.ok()) {
      t->rpc_errors++;
      std::cerr << "addSession: " << status.error_code() << " " << status.error_message() << std::endl;
      std::exit(3);
    }
    t->batches++;
    t->sessions += end - id;
    for (const auto& e : answer.responseerror()) {
      t->failed++;
      if (e.errorstatus() == 6) t->dup++;
      else if (e.errorstatus() == 8) t->full++;
      else if (e.errorstatus() == 3) t->invalid++;
      else t->other++;
    }
    id = end;
  }
  std::lock_guard<std::mutex> lock(t->mu);
  t->latency_us.insert(t->latency_us.end(), lat.begin(), lat.end());
}

// Adds n sessions from first_id over `concurrency` threads; answers the seconds taken.
double run_adds(pb::SessionTable::Stub* stub, const Options& o, uint64_t first_id, uint64_t n, AddTotals* t) {
  std::vector<std::thread> threads;
  uint64_t per = (n + o.concurrency - 1) / o.concurrency;
  auto start = Clock::now();
  for (int c = 0; c < o.concurrency; c++) {
    uint64_t from = first_id + c * per;
    uint64_t to = std::min(first_id + n, from + per);
    if (from >= to) break;
    threads.emplace_back(add_range, stub, std::cref(o), from, to, t);
  }
  for (auto& th : threads) th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  auto channel = open_channel(o);
  auto stub = pb::SessionTable::NewStub(channel);
  std::ostringstream out;
  out << "{\"scenario\":\"oo-" << o.scenario << "\",\"target\":\"" << o.target << "\",\"concurrency\":" << o.concurrency;
  if (o.scenario == "add") {
    AddTotals t;
    double seconds = run_adds(stub.get(), o, o.first_id, o.n, &t);
    double rate = t.sessions / seconds;
    out << ",\"batch\":" << o.batch << ",\"sessions\":" << t.sessions.load() << ",\"ops\":" << t.batches.load()
        << ",\"seconds\":" << seconds << ",\"ops_per_s\":" << t.batches / seconds << ",\"sessions_per_s\":" << rate
        << ",\"failed\":{\"alreadyExists\":" << t.dup.load() << ",\"tableFull\":" << t.full.load()
        << ",\"invalid\":" << t.invalid.load() << ",\"other\":" << t.other.load() << "}"
        << ",\"latency_us\":{\"p50\":" << percentile(t.latency_us, 50) << ",\"p90\":" << percentile(t.latency_us, 90)
        << ",\"p99\":" << percentile(t.latency_us, 99) << ",\"max\":" << percentile(t.latency_us, 100)
        << ",\"mean\":0},\"grpc_status\":{\"OK\":" << t.batches.load() << "},\"request_status\":{},\"errors\":0,\"ok\":"
        << (t.failed == 0 ? "true" : "false");
  } else {
    if (o.prefill > 0) {
      AddTotals t;
      Options fill = o;
      fill.concurrency = std::max(o.concurrency, 2);
      run_adds(stub.get(), fill, o.first_id, o.prefill, &t);
      if (t.failed != 0) {
        std::cerr << "prefill: " << t.failed << " sessions were not added" << std::endl;
        return 3;
      }
    }
    uint64_t sessions = 0, pages = 0, start_session = 4294967295ULL, last = 0;
    bool ordered = true;
    std::vector<double> lat;
    auto start = Clock::now();
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o.deadline_ms));
      pb::sessionRequestArgs args;
      args.set_pagesize(o.page_size);
      args.set_startsession(start_session);
      pb::sessionResponses page;
      auto t0 = Clock::now();
      grpc::Status status = stub->getAllSessions(&ctx, args, &page);
      lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      if (!status.ok()) {
        std::cerr << "getAllSessions: " << status.error_code() << " " << status.error_message() << std::endl;
        return 3;
      }
      pages++;
      if (page.sessioninfo_size() == 0) break;
      for (const auto& s : page.sessioninfo()) {
        if (s.sessionid() <= last) ordered = false;
        last = s.sessionid();
      }
      sessions += page.sessioninfo_size();
      start_session = last;
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    out << ",\"page_size\":" << o.page_size << ",\"sessions\":" << sessions << ",\"ops\":" << pages
        << ",\"seconds\":" << seconds << ",\"ops_per_s\":" << pages / seconds
        << ",\"sessions_per_s\":" << sessions / seconds << ",\"ordered\":" << (ordered ? "true" : "false")
        << ",\"latency_us\":{\"p50\":" << percentile(lat, 50) << ",\"p90\":" << percentile(lat, 90)
        << ",\"p99\":" << percentile(lat, 99) << ",\"max\":" << percentile(lat, 100)
        << ",\"mean\":0},\"grpc_status\":{\"OK\":" << pages << "},\"request_status\":{},\"errors\":0,\"ok\":"
        << (ordered ? "true" : "false");
  }
  out << "}";
  std::cout << out.str() << std::endl;
  return 0;
}
