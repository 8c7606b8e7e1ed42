// The inotify binding of sync-inotify's watcher (src/watch/inotify-watcher.ts; README,
// "Watching"). Deliberately small: it owns one inotify descriptor, adds and removes watches,
// and hands every read's raw bytes to JavaScript, which decodes the `struct inotify_event`s
// itself (src/watch/inotify-events.ts, pure and table-tested). Names stay bytes end to end.
//
// The descriptor is read from Node's own event loop (a libuv poll handle), not from a thread:
// an event is delivered as soon as the loop is free, and an idle process uses no CPU.
// Each readable wake-up reads until EAGAIN and calls the callback once with all the bytes, so
// one callback sees whole events in kernel order (a rename's IN_MOVED_FROM before its
// IN_MOVED_TO).
//
// Contract of the JS object (class Inotify):
//   new Inotify(onEvents: (bytes: Buffer) => void)  inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
//   addWatch(path: Buffer, mask: number): number     the wd; throws an Error with code/errno/
//                                                    syscall like Node's fs errors (ENOSPC …)
//   rmWatch(wd: number): void                        EINVAL (already gone) is not an error
//   close(): void                                    idempotent; no callback after it
//   ref() / unref()                                  keep (or not) the process alive
// The callback must not throw (the watcher catches everything); if it does, the exception is
// raised as an uncaught exception, like one thrown from any other event.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  const char* code = uv_err_name(-err);
  std::string message = std::string(code) + ": " + strerror(err) + ", " + syscall;
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

class Inotify : public Napi::ObjectWrap<Inotify> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function cls = DefineClass(env, "Inotify",
                                     {
                                         InstanceMethod("addWatch", &Inotify::AddWatch),
                                         InstanceMethod("rmWatch", &Inotify::RmWatch),
                                         InstanceMethod("close", &Inotify::Close),
                                         InstanceMethod("ref", &Inotify::Ref),
                                         InstanceMethod("unref", &Inotify::Unref),
                                     });
    exports.Set("Inotify", cls);
    return exports;
  }

  explicit Inotify(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Inotify>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "Inotify: a callback is required").ThrowAsJavaScriptException();
      return;
    }
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) {
      ErrnoError(env, errno, "inotify_init1").ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ::close(fd_);
      fd_ = -1;
      Napi::Error::New(env, "Inotify: no event loop").ThrowAsJavaScriptException();
      return;
    }
    poll_ = new uv_poll_t;
    int r = uv_poll_init(loop, poll_, fd_);
    if (r != 0) {
      delete poll_;
      poll_ = nullptr;
      ::close(fd_);
      fd_ = -1;
      ErrnoError(env, -r, "uv_poll_init").ThrowAsJavaScriptException();
      return;
    }
    poll_->data = this;
    callback_ = Napi::Persistent(info[0].As<Function>());
    context_ = new Napi::AsyncContext(env, "sync-inotify:inotify");
    uv_poll_start(poll_, UV_READABLE, OnReadable);
  }

  ~Inotify() override { Shutdown(); }

 private:
  using Function = Napi::Function;

  static void OnReadable(uv_poll_t* handle, int status, int events) {
    Inotify* self = static_cast<Inotify*>(handle->data);
    if (self == nullptr || self->fd_ < 0) return;
    self->Drain();
  }

  void Drain() {
    // Aligned for struct inotify_event; 64 KiB holds hundreds of events per read.
    alignas(struct inotify_event) char buf[65536];
    std::vector<char> all;
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n > 0) {
        all.insert(all.end(), buf, buf + n);
        if (all.size() >= (1u << 20)) break;  // hand over 1 MiB at a time; the poll wakes us again
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;  // EAGAIN: drained (any other error: the next wake-up tries again)
    }
    if (all.empty()) return;
    Napi::Env env = callback_.Env();
    Napi::HandleScope scope(env);
    Napi::Buffer<char> bytes = Napi::Buffer<char>::Copy(env, all.data(), all.size());
    callback_.MakeCallback(env.Global(), {bytes}, *context_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  Napi::Value AddWatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      Napi::Error::New(env, "Inotify: closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "addWatch(path: Buffer, mask: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Buffer<char> path = info[0].As<Napi::Buffer<char>>();
    std::string p(path.Data(), path.Length());  // names are bytes: no decoding
    if (p.find('\0') != std::string::npos) {
      Napi::TypeError::New(env, "addWatch: the path holds a NUL byte").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t mask = info[1].As<Napi::Number>().Uint32Value();
    int wd = inotify_add_watch(fd_, p.c_str(), mask);
    if (wd < 0) {
      ErrnoError(env, errno, "inotify_add_watch").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, wd);
  }

  Napi::Value RmWatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ >= 0 && info.Length() >= 1 && info[0].IsNumber()) {
      int wd = info[0].As<Napi::Number>().Int32Value();
      if (inotify_rm_watch(fd_, wd) < 0 && errno != EINVAL) {
        ErrnoError(env, errno, "inotify_rm_watch").ThrowAsJavaScriptException();
      }
    }
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      // libuv frees nothing itself: the handle is deleted once the loop has closed it.
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (context_ != nullptr) {
      delete context_;
      context_ = nullptr;
    }
    if (!callback_.IsEmpty()) callback_.Reset();
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  Napi::AsyncContext* context_ = nullptr;
};

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  Inotify::Init(env, exports);
  Napi::Object c = Napi::Object::New(env);
  c.Set("IN_ACCESS", Napi::Number::New(env, IN_ACCESS));
  c.Set("IN_MODIFY", Napi::Number::New(env, IN_MODIFY));
  c.Set("IN_ATTRIB", Napi::Number::New(env, IN_ATTRIB));
  c.Set("IN_CLOSE_WRITE", Napi::Number::New(env, IN_CLOSE_WRITE));
  c.Set("IN_CLOSE_NOWRITE", Napi::Number::New(env, IN_CLOSE_NOWRITE));
  c.Set("IN_OPEN", Napi::Number::New(env, IN_OPEN));
  c.Set("IN_MOVED_FROM", Napi::Number::New(env, IN_MOVED_FROM));
  c.Set("IN_MOVED_TO", Napi::Number::New(env, IN_MOVED_TO));
  c.Set("IN_CREATE", Napi::Number::New(env, IN_CREATE));
  c.Set("IN_DELETE", Napi::Number::New(env, IN_DELETE));
  c.Set("IN_DELETE_SELF", Napi::Number::New(env, IN_DELETE_SELF));
  c.Set("IN_MOVE_SELF", Napi::Number::New(env, IN_MOVE_SELF));
  c.Set("IN_UNMOUNT", Napi::Number::New(env, IN_UNMOUNT));
  c.Set("IN_Q_OVERFLOW", Napi::Number::New(env, IN_Q_OVERFLOW));
  c.Set("IN_IGNORED", Napi::Number::New(env, IN_IGNORED));
  c.Set("IN_ONLYDIR", Napi::Number::New(env, IN_ONLYDIR));
  c.Set("IN_DONT_FOLLOW", Napi::Number::New(env, IN_DONT_FOLLOW));
  c.Set("IN_EXCL_UNLINK", Napi::Number::New(env, IN_EXCL_UNLINK));
  c.Set("IN_ISDIR", Napi::Number::New(env, IN_ISDIR));
  exports.Set("constants", c);
  return exports;
}

}  // namespace

NODE_API_MODULE(sync_inotify, InitAll)
