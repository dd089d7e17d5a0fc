//! Checking the commits the walk finds, on several threads, within bounds.
//!
//! The walk runs on the caller's thread and hands each commit over as soon
//! as it finds it; checking threads, each with its own handle on the
//! repository (a git2 repository cannot be shared between threads), apply
//! a [`Check`] and keep a tally of their own, merged at the end. The
//! pipeline knows nothing of the rule: it only moves commits, bounds the
//! memory they take, and stops everything at the first error or when the
//! caller interrupts.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use git2::Repository;

use crate::git::objects::Objects;
use crate::rule::interrupt::Interrupt;
use crate::rule::walk::{Found, Walk};
use crate::verdict::error::Error;

/// What the checking threads do with each commit.
pub(crate) trait Check: Sync {
    /// What one thread finds; the threads' tallies are merged.
    type Tally: Default + Send;

    /// Checks `found`, adding what it finds to `tally`. An error stops
    /// everything.
    fn check(&self, objects: &Objects, found: Found, tally: &mut Self::Tally) -> Result<(), Error>;

    /// Adds the tally of another thread to `into`.
    fn merge(into: &mut Self::Tally, other: Self::Tally);
}

/// Commit data sent to the checking threads and not yet taken stays under
/// this many bytes; beyond it, they read the commit again. The walk is
/// faster than checking, so on a long history it would otherwise hold most
/// of it in memory.
const DATA_IN_FLIGHT: usize = 32 << 20;

/// At most this many commits wait for the checking threads (about 200
/// bytes each); then the walk waits. A GNU Guix-sized history fits, so its
/// walk, and the count of commits to check, end early.
const COMMITS_IN_FLIGHT: usize = 1 << 17;

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
    in_flight: AtomicUsize,
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
        let shared = Shared {
            check,
            in_flight: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            interrupt: self.interrupt,
        };
        std::thread::scope(|scope| {
            let mut workers = Vec::new();
            let mut receiver = Some(receiver);
            let (mut next, mut walking, mut finished) = (Some(first), Ok(()), false);
            let mut count = 0;
            while let Some(mut commit) = next {
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
                shared.account(&mut commit);
                if sender.send(commit).is_err() {
                    break;
                }
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
        let repo = (self.open)()?;
        let objects = Objects::open(&repo)?;
        let mut tally = C::Tally::default();
        for found in receiver {
            let size = found.data.as_ref().map_or(0, Vec::len);
            shared.in_flight.fetch_sub(size, Ordering::Relaxed);
            if shared.stop.load(Ordering::Relaxed) {
                continue;
            }
            let checked = shared
                .interrupt
                .check()
                .and_then(|()| shared.check.check(&objects, found, &mut tally));
            if let Err(e) = checked {
                shared.stop.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(tally)
    }
}

impl<C> Shared<'_, C> {
    /// Counts the data of `found` as in flight, or drops it (to be read
    /// again) when too much already is.
    fn account(&self, found: &mut Found) {
        let size = found.data.as_ref().map_or(0, Vec::len);
        if self.in_flight.load(Ordering::Relaxed) + size > DATA_IN_FLIGHT {
            found.data = None;
        } else {
            self.in_flight.fetch_add(size, Ordering::Relaxed);
        }
    }
}
