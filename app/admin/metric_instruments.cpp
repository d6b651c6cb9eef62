#include "app/admin/metric_instruments.hpp"

#include <algorithm>
#include <limits>

namespace portcullis::app {
namespace {

// EAP-TLS takes a few round trips through the NAS: tens of milliseconds on a LAN, seconds
// when the device or a far NAS is slow.
const std::vector<double> kHandshakeBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// A WAL sync: sub-millisecond on SSDs with a write cache, tens of milliseconds on disks.
const std::vector<double> kCommitBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

prometheus::ClientMetric::Label label(const char* name, std::string value) { return {name, std::move(value)}; }

}  // namespace

AtomicHistogram::AtomicHistogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void AtomicHistogram::observe(std::chrono::nanoseconds value) noexcept {
  const double seconds = std::chrono::duration<double>(value).count();
  const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, value.count())), std::memory_order_relaxed);
}

prometheus::ClientMetric AtomicHistogram::collect() const {
  prometheus::ClientMetric m;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    const double upper = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, upper});
  }
  // The count is the +Inf bucket's, so the two always agree even while others record.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return m;
}

static_assert(MetricInstruments::kMaxDecisionSeries + 1 < 16384, "the table must keep empty slots");

MetricInstruments::MetricInstruments()
    : slots_(new std::atomic<Series*>[kSlots]), handshake_(kHandshakeBuckets), commit_(kCommitBuckets) {
  for (std::size_t i = 0; i < kSlots; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

MetricInstruments::Series* MetricInstruments::find(const std::string& key, std::size_t hash) const {
  for (std::size_t i = hash % kSlots;; i = (i + 1) % kSlots) {
    Series* s = slots_[i].load(std::memory_order_acquire);
    if (s == nullptr || s->key == key) return s;
  }
}

template <class Fn>
void MetricInstruments::for_each_series(Fn&& fn) const {
  for (std::size_t i = 0; i < kSlots; ++i)
    if (const Series* s = slots_[i].load(std::memory_order_acquire)) fn(*s);
}

MetricInstruments::Series& MetricInstruments::series_for(std::string_view nas, const char* outcome,
                                                         std::string_view reason) {
  const auto key_of = [outcome](std::string_view n, std::string_view r) {
    std::string key;
    key.reserve(n.size() + r.size() + 10);
    key.append(n).push_back('\0');
    key.append(outcome).push_back('\0');
    key.append(r);
    return key;
  };
  std::string key = key_of(nas, reason);
  std::size_t hash = std::hash<std::string>{}(key);
  if (Series* s = find(key, hash)) return *s;
  // First time for this label set (a few per NAS): added under the mutex.
  std::lock_guard lock(grow_);
  if (size_ >= kMaxDecisionSeries) {
    nas = reason = "overflow";
    key = key_of(nas, reason);
    hash = std::hash<std::string>{}(key);
  }
  if (Series* s = find(key, hash)) return *s;
  auto series = std::make_unique<Series>();
  series->key = key;
  series->nas = nas;
  series->outcome = outcome;
  series->reason = reason;
  Series* added = series.get();
  owned_.push_back(std::move(series));
  ++size_;
  std::size_t i = hash % kSlots;
  while (slots_[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) % kSlots;
  slots_[i].store(added, std::memory_order_release);  // readers see it whole
  return *added;
}

void MetricInstruments::decided(const radius::DecisionSeen& decision) noexcept {
  try {
    series_for(decision.nas, radius::to_string(decision.outcome), decision.reason)
        .count.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    // Out of memory for a new label set: the decision stands, only its count is lost.
  }
  if (decision.handshake) handshake_.observe(*decision.handshake);
}

void MetricInstruments::committed(std::chrono::nanoseconds took) noexcept { commit_.observe(took); }

std::map<std::string, std::uint64_t> MetricInstruments::rejects_by_nas() const {
  std::map<std::string, std::uint64_t> out;
  for_each_series([&out](const Series& s) {
    if (s.outcome == "reject") out[s.nas] += s.count.load(std::memory_order_relaxed);
  });
  return out;
}

std::vector<prometheus::MetricFamily> MetricInstruments::collect() const {
  prometheus::MetricFamily decisions{"portcullis_radius_decisions_total",
                                     "Access-Requests answered with Access-Accept or Access-Reject, by NAS, outcome "
                                     "and reason code",
                                     prometheus::MetricType::Counter,
                                     {}};
  std::vector<const Series*> sorted;
  for_each_series([&sorted](const Series& s) { sorted.push_back(&s); });
  std::sort(sorted.begin(), sorted.end(), [](const Series* a, const Series* b) {
    return std::tie(a->nas, a->outcome, a->reason) < std::tie(b->nas, b->outcome, b->reason);
  });
  for (const Series* s : sorted) {
    prometheus::ClientMetric m;
    m.label = {label("nas", s->nas), label("outcome", s->outcome), label("reason", s->reason)};
    m.counter.value = static_cast<double>(s->count.load(std::memory_order_relaxed));
    decisions.metric.push_back(std::move(m));
  }
  prometheus::MetricFamily handshake{"portcullis_eap_handshake_seconds",
                                     "EAP conversations from their first Access-Request to the Accept or Reject",
                                     prometheus::MetricType::Histogram,
                                     {handshake_.collect()}};
  prometheus::MetricFamily commit{"portcullis_ledger_commit_seconds",
                                  "Time the ledger's write transactions took to COMMIT (the WAL sync)",
                                  prometheus::MetricType::Histogram,
                                  {commit_.collect()}};
  return {std::move(decisions), std::move(handshake), std::move(commit)};
}

}  // namespace portcullis::app
