//! Checking the commits the walk finds, on several threads, within bounds.
//!
//! The walk runs on the caller's thread and hands each commit over as soon
//! as it finds it; checking threads, each with its own handle on the
//! repository (a git2 repository cannot be shared between threads), apply
//! a [`Check`] and keep a tally of their own, merged at the end. The
//! pipeline knows nothing of the rule: it only moves commits, bounds the
//! memory they take, and stops everything at the first error or when the
//! caller interrupts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use git2::Repository;

use crate::git::objects::Objects;
use crate::rule::interrupt::Interrupt;
use crate::rule::walk::{Found, Walk};
use crate::verdict::error::Error;

/// What the checking threads do with each commit.
pub(crate) trait Check: Sync {
    /// What one thread finds; the threads' tallies are merged.
    type Tally: Default + Send;

    /// Checks `found`, adding what it finds to `tally`; what it leaves of
    /// `found` goes back to the walk's thread to be freed. An error stops
    /// everything.
    fn check(
        &self,
        objects: &Objects,
        found: &mut Found,
        tally: &mut Self::Tally,
    ) -> Result<(), Error>;

    /// Adds the tally of another thread to `into`.
    fn merge(into: &mut Self::Tally, other: Self::Tally);
}

/// Commit data sent to the checking threads and not yet taken stays under
/// this many bytes: beyond it, the walk waits. The walk is faster than
/// checking, so on a long history it would otherwise hold most of it in
/// memory; and waiting costs nothing, where handing commits over without
/// their data (as this once did) had the checking threads find, inflate
/// and hash again the commits the walk had read. A few thousand commits
/// keep the checking threads busy: more would only take memory.
const DATA_IN_FLIGHT: usize = 8 << 20;

/// At most this many commits wait for the checking threads (about 200
/// bytes each, with their data under [`DATA_IN_FLIGHT`]); then the walk
/// waits.
const COMMITS_IN_FLIGHT: usize = 1 << 17;

/// How long the walk waits for the checking threads before it looks again
/// whether they stopped or the caller interrupted.
const WAIT: Duration = Duration::from_millis(20);

/// How often the walk tells how many commits it has found.
const FOUND_EVERY: usize = 1024;

/// How the checking threads get their repository handles, how many there
/// may be, and the caller's interrupt.
pub(crate) struct Pipeline<'a> {
    pub threads: usize,
    pub open: &'a (dyn Fn() -> Result<Repository, Error> + Sync),
    pub interrupt: Interrupt<'a>,
}

/// What the threads share.
struct Shared<'a, C> {
    check: &'a C,
    /// Commits checked, back to the walk's thread, which allocated their
    /// data and frees it: freed by a checking thread, each would lock the
    /// allocator's arena of the walk's thread (glibc's), and three threads
    /// taking turns at that lock left the cores idle a few percent of the
    /// time.
    checked: crossbeam_channel::Sender<Found>,
    in_flight: Mutex<InFlight>,
    /// Told when the checking threads have taken enough data for the walk
    /// to go on.
    taken: Condvar,
    stop: AtomicBool,
    interrupt: Interrupt<'a>,
}

impl Pipeline<'_> {
    /// Checks every commit the walk finds, from `first` on; `found` is
    /// told how many the walk has found every [`FOUND_EVERY`] commits, and
    /// `walked` how many there are once the walk is over. A thread is
    /// started only when there is a commit for it.
    pub fn run<C: Check>(
        &self,
        walk: &mut Walk,
        first: Found,
        check: &C,
        found: impl Fn(usize),
        walked: impl FnOnce(usize),
    ) -> Result<C::Tally, Error> {
        let (sender, receiver) = crossbeam_channel::bounded::<Found>(COMMITS_IN_FLIGHT);
        // Unbounded, but it holds at most the commits in flight: the walk
        // frees what came back before it hands each commit over.
        let (checked, back) = crossbeam_channel::unbounded::<Found>();
        let shared = Shared {
            check,
            checked,
            in_flight: Mutex::new(InFlight::default()),
            taken: Condvar::new(),
            stop: AtomicBool::new(false),
            interrupt: self.interrupt,
        };
        std::thread::scope(|scope| {
            let mut workers = Vec::new();
            let mut receiver = Some(receiver);
            let (mut next, mut walking, mut finished) = (Some(first), Ok(()), false);
            let mut count = 0;
            while let Some(commit) = next {
                count += 1;
                if count % FOUND_EVERY == 0 {
                    found(count);
                }
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Some(r) = &receiver {
                    let (r, shared) = (r.clone(), &shared);
                    workers.push(scope.spawn(move || self.worker(r, shared)));
                    if workers.len() == self.threads {
                        // Only the checking threads receive now: when they
                        // are all gone, sending fails instead of waiting.
                        receiver = None;
                    }
                }
                if let Err(e) = shared.account(&commit) {
                    walking = Err(e);
                    break;
                }
                if sender.send(commit).is_err() {
                    break;
                }
                back.try_iter().for_each(drop);
                next = match self.interrupt.check().and_then(|()| walk.next_commit()) {
                    Ok(next) => next,
                    Err(e) => {
                        walking = Err(e);
                        break;
                    }
                };
                finished = next.is_none();
            }
            if finished {
                walked(walk.commits().count());
            }
            drop(sender);
            drop(receiver);
            drop(back);
            if walking.is_err() {
                shared.stop.store(true, Ordering::Relaxed);
            }
            let mut tally = C::Tally::default();
            let mut error = walking.err();
            for worker in workers {
                match worker.join().expect("checking threads do not panic") {
                    Ok(found) => C::merge(&mut tally, found),
                    Err(e) => error = error.or(Some(e)),
                }
            }
            error.map_or(Ok(tally), Err)
        })
    }

    /// One checking thread: checks what it receives until the walk is over,
    /// or until a thread meets an error.
    fn worker<C: Check>(
        &self,
        receiver: crossbeam_channel::Receiver<Found>,
        shared: &Shared<C>,
    ) -> Result<C::Tally, Error> {
        let mut leaving = Leaving {
            stop: &shared.stop,
            done: false,
        };
        let repo = (self.open)()?;
        let objects = Objects::open(&repo)?;
        let mut tally = C::Tally::default();
        for mut found in receiver {
            shared.take(&found);
            if shared.stop.load(Ordering::Relaxed) {
                continue;
            }
            let checked = shared
                .interrupt
                .check()
                .and_then(|()| shared.check.check(&objects, &mut found, &mut tally));
            checked?;
            // Once the walk is over, nothing takes them: freed here.
            let _ = shared.checked.send(found);
        }
        leaving.done = true;
        Ok(tally)
    }
}

/// Stops everything when a checking thread ends before the walk is over:
/// on an error, or a panic, the walk must not wait for it to take data.
struct Leaving<'a> {
    stop: &'a AtomicBool,
    done: bool,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// The commit data sent to the checking threads and not yet taken.
#[derive(Default)]
struct InFlight {
    bytes: usize,
    /// Whether the walk waits for room. The checking threads wake it only
    /// then, and once half the data is taken rather than at every commit:
    /// a wake-up is a system call.
    waiting: bool,
}

impl<C> Shared<'_, C> {
    /// Counts the data of `found` as in flight, once there is room for it:
    /// waits while the checking threads have more than [`DATA_IN_FLIGHT`]
    /// bytes to take (any amount when they have none, so that one large
    /// commit never waits forever), unless they stopped or the caller
    /// interrupts.
    fn account(&self, found: &Found) -> Result<(), Error> {
        let size = found.data.len();
        let mut in_flight = self.in_flight();
        while in_flight.bytes > 0 && in_flight.bytes + size > DATA_IN_FLIGHT {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            self.interrupt.check()?;
            in_flight.waiting = true;
            in_flight = match self.taken.wait_timeout(in_flight, WAIT) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        in_flight.waiting = false;
        in_flight.bytes += size;
        Ok(())
    }

    /// Counts the data of `found` as taken by a checking thread.
    fn take(&self, found: &Found) {
        let mut in_flight = self.in_flight();
        in_flight.bytes = in_flight.bytes.saturating_sub(found.data.len());
        let wake = in_flight.waiting && in_flight.bytes <= DATA_IN_FLIGHT / 2;
        if wake {
            in_flight.waiting = false;
        }
        drop(in_flight);
        if wake {
            self.taken.notify_one();
        }
    }

    fn in_flight(&self) -> MutexGuard<'_, InFlight> {
        // Only counts are kept under the lock: a thread that panicked
        // holding it left counts, which are all the others need.
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(interrupt: Interrupt<'_>) -> Shared<'_, ()> {
        Shared {
            check: &(),
            checked: crossbeam_channel::unbounded().0,
            in_flight: Mutex::new(InFlight::default()),
            taken: Condvar::new(),
            stop: AtomicBool::new(false),
            interrupt,
        }
    }

    fn found(size: usize) -> Found {
        Found {
            node: 0,
            id: git2::Oid::ZERO_SHA1,
            data: vec![0; size],
            parents: Vec::new(),
        }
    }

    #[test]
    fn the_walk_waits_for_room_and_the_checking_threads_wake_it() {
        let shared = shared(Interrupt::new(None));
        let half = found(DATA_IN_FLIGHT / 2 + 1);
        shared.account(&half).unwrap();
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| shared.account(&half));
            // The walk waits until a checking thread takes the first half.
            while !shared.in_flight().waiting {
                std::thread::yield_now();
            }
            assert!(!waiting.is_finished());
            shared.take(&half);
            waiting.join().unwrap().unwrap();
        });
        assert_eq!(shared.in_flight().bytes, half.data.len());
    }

    #[test]
    fn a_checking_thread_that_ends_early_stops_the_walk_from_waiting() {
        let stop = AtomicBool::new(false);
        let ended = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _leaving = Leaving {
                        stop: &stop,
                        done: false,
                    };
                    panic!("a bug in a checking thread");
                })
                .join()
        });
        assert!(ended.is_err());
        assert!(stop.load(Ordering::Relaxed));
        let done = AtomicBool::new(false);
        drop(Leaving {
            stop: &done,
            done: true,
        });
        assert!(!done.load(Ordering::Relaxed));
    }

    #[test]
    fn a_commit_larger_than_the_bound_waits_only_for_the_others() {
        let shared = shared(Interrupt::new(None));
        shared.account(&found(DATA_IN_FLIGHT * 2)).unwrap();
        assert_eq!(shared.in_flight().bytes, DATA_IN_FLIGHT * 2);
    }

    #[test]
    fn the_walk_stops_waiting_when_the_checking_threads_stop_or_the_caller_interrupts() {
        let flag = AtomicBool::new(false);
        let shared = shared(Interrupt::new(Some(&flag)));
        let full = found(DATA_IN_FLIGHT);
        shared.account(&full).unwrap();
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| shared.account(&full));
            flag.store(true, Ordering::Relaxed);
            assert!(matches!(waiting.join().unwrap(), Err(Error::Interrupted)));
        });
        flag.store(false, Ordering::Relaxed);
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| shared.account(&full));
            shared.stop.store(true, Ordering::Relaxed);
            assert!(waiting.join().unwrap().is_ok());
        });
    }
}
