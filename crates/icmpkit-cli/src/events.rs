//! Taking a stream's events that are already waiting without going
//! through another `select!` (a flood or a fast sweep has one ready after
//! every event; a select for each cost more than printing it).

use std::pin::Pin;
use std::task::Poll;

use futures_core::Stream;

/// Most events taken in a row before the caller's select looks at its
/// signals (and ticks) again.
pub const EVENTS_PER_SELECT: usize = 64;

/// The stream's next event if one is ready now (`Some(None)`: the stream
/// is over), else `None`. Polled with the task's waker, so an event not
/// ready yet wakes the task as the select would.
pub async fn ready_event<S: Stream + Unpin>(stream: &mut S) -> Option<Option<S::Item>> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *stream).poll_next(cx) {
            Poll::Ready(event) => Some(event),
            Poll::Pending => None,
        })
    })
    .await
}
