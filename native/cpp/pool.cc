#include "pool.h"

#include <algorithm>
#include <atomic>

namespace recsys {

struct ThreadPool::Job {
  const std::function<void(int)>* fn = nullptr;
  std::mutex mutex;
  std::condition_variable done;
  int remaining = 0;
  std::exception_ptr error;

  void finish(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (e && !error) error = e;
    if (--remaining == 0) done.notify_all();
  }
};

ThreadPool& ThreadPool::instance() {
  // Deliberately leaked: the workers live as long as the process, and no static destructor joins them at exit
  // (which could wait forever on a job still running when the process exits).
  static ThreadPool* pool = new ThreadPool();
  return *pool;
}

int ThreadPool::resolveThreads(int threads) {
  if (threads > 0) return threads;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

void ThreadPool::ensureWorkers(int count) {
  // Called with mutex_ held.
  while (static_cast<int>(workers_.size()) < count) {
    workers_.emplace_back([this] { workerLoop(); });
    workers_.back().detach();
  }
}

void ThreadPool::runTask(const Task& task) {
  std::exception_ptr error;
  try {
    (*task.job->fn)(task.participant);
  } catch (...) {
    error = std::current_exception();
  }
  task.job->finish(error);
}

void ThreadPool::workerLoop() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty(); });
      task = queue_.front();
      queue_.pop_front();
    }
    runTask(task);
  }
}

void ThreadPool::run(int n, const std::function<void(int)>& fn) {
  if (n <= 1) {
    fn(0);
    return;
  }
  Job job;
  job.fn = &fn;
  job.remaining = n;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ensureWorkers(n - 1);
    for (int p = 1; p < n; p++) queue_.push_back(Task{&job, p});
  }
  if (n - 1 == 1) {
    wake_.notify_one();
  } else {
    wake_.notify_all();
  }
  runTask(Task{&job, 0});
  std::unique_lock<std::mutex> lock(job.mutex);
  job.done.wait(lock, [&job] { return job.remaining == 0; });
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace recsys
