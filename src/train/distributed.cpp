#include "gpt2/train/distributed.hpp"

#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // Debian's libtorch is built with Gloo; its header hides the class without this
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

namespace gpt2 {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBeat{250};    // heartbeat period of every rank
constexpr milliseconds kProbe{1500};  // how long a diagnosis watches the heartbeats

// The first line of a library's message, without its C++ backtrace, at most 240 characters.
std::string short_cause(const std::string& what) {
  std::string s = what.substr(0, what.find('\n'));
  if (s.size() > 240) s = s.substr(0, 240) + "...";
  return s;
}

int parse_int(const std::function<const char*(const char*)>& get, const char* name, int min, int max) {
  const char* v = get(name);
  if (v == nullptr || *v == '\0') throw UsageError("environment variable " + std::string(name) + " is empty");
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
    throw UsageError("environment variable " + std::string(name) + "='" + v + "' must be an integer in [" +
                     std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int>(n);
}

bool is_set(const std::function<const char*(const char*)>& get, const char* name) {
  const char* v = get(name);
  return v != nullptr && *v != '\0';
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

std::string DistributedEnv::describe() const {
  std::string s = "rank " + std::to_string(rank) + " of " + std::to_string(world_size);
  if (!launcher.empty()) s += " (" + launcher + ", store " + master_addr + ":" + std::to_string(master_port) + ")";
  return s;
}

DistributedEnv distributed_env(const std::function<const char*(const char*)>& get) {
  DistributedEnv e;
  const char *rank_var, *size_var, *local_var;
  if (is_set(get, "RANK") || is_set(get, "WORLD_SIZE")) {
    e.launcher = "torchrun";
    rank_var = "RANK", size_var = "WORLD_SIZE", local_var = "LOCAL_RANK";
  } else if (is_set(get, "SLURM_PROCID") && is_set(get, "SLURM_NTASKS")) {
    e.launcher = "slurm";
    rank_var = "SLURM_PROCID", size_var = "SLURM_NTASKS", local_var = "SLURM_LOCALID";
  } else {
    return e;  // alone
  }
  e.world_size = parse_int(get, size_var, 1, 1 << 20);
  e.rank = parse_int(get, rank_var, 0, e.world_size - 1);
  e.local_rank = is_set(get, local_var) ? parse_int(get, local_var, 0, 1 << 20) : 0;
  if (e.world_size == 1) return e;
  const char* hint = e.launcher == "slurm" ? " (export it in the batch script: see docs/finetune.md)" : "";
  if (!is_set(get, "MASTER_ADDR"))
    throw UsageError(std::string("environment variable MASTER_ADDR (the host of rank 0) is not set") + hint);
  if (!is_set(get, "MASTER_PORT"))
    throw UsageError(std::string("environment variable MASTER_PORT (a free TCP port on rank 0's host) is not set") +
                     hint);
  e.master_addr = get("MASTER_ADDR");
  e.master_port = parse_int(get, "MASTER_PORT", 1, 65535);
  if (is_set(get, "TORCHELASTIC_USE_AGENT_STORE")) {
    const std::string v = get("TORCHELASTIC_USE_AGENT_STORE");
    e.agent_store = v == "True" || v == "true" || v == "1";
  }
  if (is_set(get, "TORCHELASTIC_RESTART_COUNT"))
    e.restart_count = parse_int(get, "TORCHELASTIC_RESTART_COUNT", 0, 1 << 30);
  return e;
}

DistributedEnv distributed_env() {
  return distributed_env([](const char* name) -> const char* { return std::getenv(name); });
}

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::TCPStore> tcp;  // rank 0's server (or a client)
  c10::intrusive_ptr<c10d::Store> store;    // the run's keys: gpt2/attempt_<n>/
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::thread heartbeat;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::string prefix;

  c10::intrusive_ptr<c10d::Store> client(const DistributedEnv& env, milliseconds timeout) const {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(env.master_port);
    o.isServer = false;
    o.waitWorkers = false;
    o.timeout = timeout;
    return c10::make_intrusive<c10d::PrefixStore>(prefix, c10::make_intrusive<c10d::TCPStore>(env.master_addr, o));
  }
};

DataParallel::DataParallel(const DistributedEnv& env, milliseconds timeout, int64_t bucket_bytes)
    : env_(env),
      timeout_(timeout),
      // a collective gives up early enough for the diagnosis to end within the timeout
      collective_timeout_(std::max(milliseconds(1000), timeout - kProbe - milliseconds(500))),
      bucket_bytes_(std::max<int64_t>(bucket_bytes, 1024)), impl_(new Impl) {
  impl_->prefix = "gpt2/attempt_" + std::to_string(env.restart_count);
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  position_ = "joining";
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(env.master_port);
    o.isServer = env.rank == 0 && !env.agent_store;
    o.waitWorkers = false;
    o.timeout = timeout;
    impl_->tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    throw DistributedError(env.describe() + ": cannot " +
                           (env.rank == 0 && !env.agent_store ? "host the store on port " + std::to_string(env.master_port)
                                                              : "reach rank 0's store at " + where) +
                           " within " + std::to_string(timeout.count() / 1000) + " s: " + short_cause(e.what()));
  }
  impl_->store = c10::make_intrusive<c10d::PrefixStore>(impl_->prefix, impl_->tcp);
  try {
    auto opts = c10d::ProcessGroupGloo::Options::create(collective_timeout_);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (is_loopback(env.master_addr))
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("pg", impl_->store), env.rank, env.world_size, opts);
  } catch (const std::exception& e) {
    throw DistributedError(env.describe() + ": the " + std::to_string(env.world_size) +
                           " ranks did not all join within " + std::to_string(timeout.count() / 1000) +
                           " s (store " + where + "): " + short_cause(e.what()));
  }
  // The heartbeat: a counter each rank bumps on its own connection, so a rank
  // that died or stopped is told from one that is merely slow.
  auto beat_store = impl_->client(env, timeout);
  const std::string key = "alive/" + std::to_string(env.rank);
  beat_store->add(key, 1);
  impl_->heartbeat = std::thread([impl = impl_.get(), beat_store, key] {
    std::unique_lock<std::mutex> lock(impl->mu);
    while (!impl->cv.wait_for(lock, kBeat, [impl] { return impl->stopping; })) {
      lock.unlock();
      try {
        beat_store->add(key, 1);
      } catch (const std::exception&) {
        // the store is gone: the main thread finds out at its next collective
      }
      lock.lock();
    }
  });
}

DataParallel::~DataParallel() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
}

void DataParallel::set(const std::string& key, const std::string& value) { impl_->store->set(key, bytes(value)); }

void DataParallel::note_progress(int64_t step) {
  ++sequence_;
  try {
    set("at/" + std::to_string(env_.rank), std::to_string(sequence_) + " " + std::to_string(step));
  } catch (const std::exception& e) {
    fail("at step " + std::to_string(step), e.what());
  }
}

// Which rank is to blame: one that reported an error, one whose heartbeat
// stopped (died, killed, stopped), one that is behind; else what is known.
std::string DataParallel::diagnose() {
  c10::intrusive_ptr<c10d::Store> probe;
  try {
    probe = impl_->client(env_, kProbe);
  } catch (const std::exception& e) {
    if (env_.agent_store) return "torchrun's agent store at " + env_.master_addr + " is unreachable";
    return "rank 0 is gone (its store at " + env_.master_addr + ":" + std::to_string(env_.master_port) +
           " does not answer)";
  }
  try {
    for (int r = 0; r < env_.world_size; ++r) {
      const std::string k = "error/" + std::to_string(r);
      if (r != env_.rank && probe->check({k})) return "rank " + std::to_string(r) + " failed: " + text(probe->get(k));
    }
    auto beats = [&] {
      std::vector<int64_t> v;
      for (int r = 0; r < env_.world_size; ++r) v.push_back(probe->add("alive/" + std::to_string(r), 0));
      return v;
    };
    const std::vector<int64_t> before = beats();
    std::this_thread::sleep_for(kProbe);
    const std::vector<int64_t> after = beats();
    std::vector<int> silent;
    for (int r = 0; r < env_.world_size; ++r)
      if (r != env_.rank && after[r] == before[r]) silent.push_back(r);
    auto list = [](const std::vector<int>& v) {
      std::string s = v.size() == 1 ? "rank " : "ranks ";
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s;
    };
    if (!silent.empty()) return list(silent) + " died or stopped responding (no heartbeat)";
    std::vector<int> behind;
    for (int r = 0; r < env_.world_size; ++r) {
      const std::string k = "at/" + std::to_string(r);
      if (r == env_.rank) continue;
      int64_t seq = 0;
      if (probe->check({k})) std::istringstream(text(probe->get(k))) >> seq;
      if (seq < sequence_) behind.push_back(r);
    }
    if (!behind.empty()) return list(behind) + " did not reach this point (alive but stuck)";
  } catch (const std::exception& e) {
    return "rank 0 is gone (its store stopped answering: " + short_cause(e.what()) + ")";
  }
  return "a peer's connection failed";
}

void DataParallel::fail(const std::string& what, const std::string& cause) {
  throw DistributedError(env_.describe() + ", " + what + ": " + diagnose() + " [" + short_cause(cause) + "]");
}

void DataParallel::report_failure(const std::string& message) noexcept {
  try {
    auto probe = impl_->client(env_, kProbe);
    probe->set("error/" + std::to_string(env_.rank), bytes(short_cause(message)));
  } catch (...) {
  }
}

void DataParallel::average_gradients(const std::vector<torch::Tensor>& params, int64_t step) {
  torch::NoGradGuard no_grad;
  note_progress(step);
  const auto t0 = Clock::now();
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (!p.grad().defined()) const_cast<torch::Tensor&>(p).mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  struct Bucket {
    size_t first, last;  // grads [first, last)
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  for (size_t i = 0; i < grads.size();) {
    size_t j = i;
    int64_t nbytes = 0;
    while (j < grads.size() && (j == i || nbytes + grads[j].nbytes() <= static_cast<size_t>(bucket_bytes_)))
      nbytes += static_cast<int64_t>(grads[j++].nbytes());
    std::vector<torch::Tensor> parts;
    for (size_t k = i; k < j; ++k) parts.push_back(grads[k].reshape({-1}));
    Bucket b{i, j, torch::cat(parts), {}};
    std::vector<torch::Tensor> one{b.flat};
    try {
      b.work = impl_->pg->allreduce(one);
    } catch (const std::exception& e) {
      fail("all-reducing the gradients of step " + std::to_string(step + 1), e.what());
    }
    buckets.push_back(std::move(b));
    i = j;
  }
  const double inv = 1.0 / env_.world_size;
  for (auto& b : buckets) {
    try {
      b.work->wait(collective_timeout_);
    } catch (const std::exception& e) {
      fail("all-reducing the gradients of step " + std::to_string(step + 1), e.what());
    }
    b.flat.mul_(inv);
    int64_t off = 0;
    for (size_t k = b.first; k < b.last; ++k) {
      const int64_t n = grads[k].numel();
      grads[k].copy_(b.flat.narrow(0, off, n).view(grads[k].sizes()));
      off += n;
    }
  }
  allreduce_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<double> DataParallel::sum(const std::vector<double>& values, int64_t step) {
  note_progress(step);
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  std::vector<torch::Tensor> one{t};
  try {
    impl_->pg->allreduce(one)->wait(collective_timeout_);
  } catch (const std::exception& e) {
    fail("at step " + std::to_string(step + 1), e.what());
  }
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

void DataParallel::root_only(const std::string& what, const std::function<void()>& fn) {
  ++sequence_;
  const std::string key = "root/" + std::to_string(sequence_);
  if (is_root()) {
    try {
      fn();
    } catch (const std::exception& e) {
      try {
        set(key, "error: " + short_cause(e.what()));
      } catch (...) {
      }
      throw;
    }
    set(key, "ok");
    return;
  }
  // Wait as long as rank 0 is alive: its heartbeat must move within the timeout.
  try {
    int64_t beat = impl_->store->add("alive/0", 0);
    auto last_move = Clock::now();
    while (!impl_->store->check({key})) {
      std::this_thread::sleep_for(milliseconds(20));
      const int64_t now = impl_->store->add("alive/0", 0);
      if (now != beat) {
        beat = now;
        last_move = Clock::now();
      } else if (Clock::now() - last_move > timeout_) {
        throw DistributedError(env_.describe() + ": rank 0 stopped responding while " + what + " (no heartbeat for " +
                               std::to_string(timeout_.count() / 1000) + " s)");
      }
    }
    const std::string v = text(impl_->store->get(key));
    if (v != "ok") throw DistributedError(env_.describe() + ": rank 0 failed while " + what + ": " + v.substr(7));
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(env_.describe() + ": rank 0 is gone (while " + what + "; its store at " + env_.master_addr +
                           ":" + std::to_string(env_.master_port) + " stopped answering: " + short_cause(e.what()) +
                           ")");
  }
}

std::string DataParallel::share_from_root(const std::string& key, const std::string& value) {
  const std::string k = "share/" + key;
  if (is_root()) {
    set(k, value);
    return value;
  }
  try {
    impl_->store->wait({k}, timeout_);
    return text(impl_->store->get(k));
  } catch (const std::exception& e) {
    fail("waiting for rank 0's " + key, e.what());
  }
}

void DataParallel::finish() {
  ++sequence_;
  if (!is_root()) {
    set("done/" + std::to_string(env_.rank), "1");
    return;
  }
  std::vector<std::string> keys;
  for (int r = 1; r < env_.world_size; ++r) keys.push_back("done/" + std::to_string(r));
  try {
    impl_->store->wait(keys, timeout_);
  } catch (const std::exception& e) {
    fail("at the end of the run", e.what());
  }
}

}  // namespace gpt2
