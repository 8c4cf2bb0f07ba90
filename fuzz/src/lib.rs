//! Helpers shared by the fuzz targets in `fuzz_targets/`: driving a future that completes
//! without I/O, and cutting one fuzz input into several fields.

#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Runs `future` to completion on this thread. Every future the targets drive (tower
/// services over in-memory stores and in-memory bodies) completes without waiting for I/O
/// or timers, so a future still pending after many polls is a hang: it panics.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("a future that needs no I/O is still pending after 1000 polls");
}

/// The fields of a text input: `input` cut at every `\n--\n`, so seeds stay readable
/// (`url\n--\nbody\n--\nsignature`). Missing fields are empty.
pub fn fields(input: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = input;
    while out.len() + 1 < n {
        match find(rest, b"\n--\n") {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + 4..];
            }
            None => break,
        }
    }
    out.push(rest);
    out.resize(n, &[]);
    out
}

/// The lines of `input` (split at `\n`, a trailing `\r` removed).
pub fn lines(input: &[u8]) -> impl Iterator<Item = &[u8]> {
    input
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
