//! Helper threads that give way to the ring reader (`pipeline::priority`):
//! lowering a thread to SCHED_IDLE and raising it back needs root
//! (CAP_SYS_NICE), so this lives with the live tests.

use tracer::pipeline::priority::{lower, raise, this_thread, Priority};

/// Lowered and raised back, as the tests run (root): the thread is at
/// SCHED_OTHER, nice 0 again.
#[test]
fn a_lowered_thread_is_raised_back() {
    let (tid, policy, nice) = std::thread::spawn(|| {
        let tid = this_thread();
        assert!(lower(tid, Priority::Idle), "root can raise");
        // SAFETY: reads this thread's policy.
        assert_eq!(unsafe { libc::sched_getscheduler(tid) }, libc::SCHED_IDLE);
        raise(tid);
        // SAFETY: reads this thread's policy and nice value.
        let policy = unsafe { libc::sched_getscheduler(tid) };
        // SAFETY: as above.
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
        (tid, policy, nice)
    })
    .join()
    .unwrap();
    assert!(tid > 0);
    assert_eq!((policy, nice), (libc::SCHED_OTHER, 0));
}
