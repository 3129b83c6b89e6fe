// A small persistent thread pool for the elementwise kernels: parallelFor(n, threads, fn) runs fn(begin, end) over
// [0, n) on up to `threads` threads (the caller's thread is one of them). One job at a time; a caller that finds the
// pool busy (a second JS thread in the same process) runs its job alone rather than wait.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pros {

class Pool {
 public:
  static Pool& Get() {
    static Pool* pool = new Pool();  // never destroyed: worker threads must not outlive a destroyed pool at exit
    return *pool;
  }

  void ParallelFor(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn) {
    if (threads <= 1 || n <= 1) { fn(0, n); return; }
    std::unique_lock<std::mutex> busy(jobMutex_, std::try_to_lock);
    if (!busy.owns_lock()) { fn(0, n); return; }
    const int parts = int(std::min<int64_t>(threads, n));
    Grow(parts - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      generation_++;
    }
    cv_.notify_all();
    Run(0);
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void Run(int part) {
    const int64_t begin = n_ * part / parts_;
    const int64_t end = n_ * (part + 1) / parts_;
    if (begin < end) (*fn_)(begin, end);
  }

  void Grow(int workers) {
    while (int(threads_.size()) < workers) {
      const int part = int(threads_.size()) + 1;
      uint64_t start;
      {
        std::lock_guard<std::mutex> lk(m_);
        start = generation_;  // a new thread waits for the next job, never runs a finished one
      }
      threads_.emplace_back([this, part, start] {
        uint64_t seen = start;
        for (;;) {
          {
            std::unique_lock<std::mutex> lk(m_);
            cv_.wait(lk, [&] { return generation_ != seen; });
            seen = generation_;
            if (part >= parts_) continue;
          }
          Run(part);
          std::lock_guard<std::mutex> lk(m_);
          if (--pending_ == 0) done_.notify_one();
        }
      });
      threads_.back().detach();
    }
  }

  std::mutex jobMutex_, m_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace pros
