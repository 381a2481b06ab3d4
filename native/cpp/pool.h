// The addon's single thread pool. Heavy work runs on a libuv worker thread (an AsyncWorker), which takes part in
// the job as participant 0 and hands participants 1..n-1 to the pool; pool tasks never submit work to the pool
// themselves, so pools are never nested and no task waits on another.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace recsys {

class ThreadPool {
 public:
  static ThreadPool& instance();

  /** Runs fn(participant) for every participant in [0, n) and waits for all; rethrows the first exception. */
  void run(int n, const std::function<void(int)>& fn);

  /** threads = 0 means every core; the result is at least 1. */
  static int resolveThreads(int threads);

 private:
  struct Job;
  struct Task {
    Job* job;
    int participant;
  };

  ThreadPool() = default;
  void ensureWorkers(int count);
  void workerLoop();
  static void runTask(const Task& task);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  std::vector<std::thread> workers_;
};

}  // namespace recsys
