//! What one client connection may hold: how long it may take to send a
//! request head and a body, how long it may sit idle or leave a response
//! unread, and how many connections one client address (and everyone
//! together) may have open. The accept loop in `serve` applies these.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use moat_policy::failures::client_key;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Connection limits; one default per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the connection's start (after the TLS handshake) or from the
    /// first byte of a later request, until its head is complete; also the
    /// time a TLS handshake may take.
    pub header_timeout: Duration,
    /// From a request's head until its body is complete; a body still
    /// short of its `Content-Length`, or a chunked body still going, is
    /// then answered 408 and the connection closed.
    pub body_timeout: Duration,
    /// How long a connection may wait for its next request, and how long a
    /// client may leave a response unread before the connection is closed.
    pub idle_timeout: Duration,
    /// Open connections per client address (IPv6: per /64); more are closed
    /// at once.
    pub max_per_client: usize,
    /// Open connections in all; more are closed at once.
    pub max_total: usize,
}

impl ConnectionLimits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_PER_CLIENT: usize = 64;
    pub const DEFAULT_MAX_TOTAL: usize = 1024;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_per_client: Self::DEFAULT_MAX_PER_CLIENT,
            max_total: Self::DEFAULT_MAX_TOTAL,
        }
    }
}

/// Open connections per client and in all.
#[derive(Debug)]
pub(crate) struct OpenConnections {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    ClientFull,
    ServerFull,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Admitted {
    open: Arc<OpenConnections>,
    key: IpAddr,
}

impl OpenConnections {
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::default(),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admit a connection from `ip`, or say which cap it is over.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let key = client_key(ip);
        let mut counts = self.counts();
        if counts.total >= self.limits.max_total {
            return Err(Refused::ServerFull);
        }
        let mine = counts.per_client.entry(key).or_insert(0);
        if *mine >= self.limits.max_per_client {
            return Err(Refused::ClientFull);
        }
        *mine += 1;
        counts.total += 1;
        Ok(Admitted {
            open: self.clone(),
            key,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.open.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.per_client.get_mut(&self.key) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.per_client.remove(&self.key);
            }
        }
    }
}

/// Where a connection is between requests; the read deadline follows it.
const WAITING: u8 = 0;
const READING_HEAD: u8 = 1;
const BUSY: u8 = 2;

/// No deadline.
const NEVER: u64 = u64::MAX;

/// The state one connection's I/O and its requests share: which phase it is
/// in and until when it may wait for bytes from the client.
#[derive(Debug)]
pub(crate) struct ConnectionClock {
    limits: ConnectionLimits,
    start: Instant,
    phase: AtomicU8,
    /// Milliseconds after `start`; [`NEVER`] for none.
    read_deadline_ms: AtomicU64,
    /// A request body ran out of time: the answer closes the connection.
    body_timed_out: AtomicBool,
}

impl ConnectionClock {
    /// A new connection, waiting for its first request head.
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        let clock = Arc::new(Self {
            limits,
            start: Instant::now(),
            phase: AtomicU8::new(READING_HEAD),
            read_deadline_ms: AtomicU64::new(NEVER),
            body_timed_out: AtomicBool::new(false),
        });
        clock.set_deadline(Some(limits.header_timeout));
        clock
    }

    /// Milliseconds since the connection opened, by the monotonic clock:
    /// deadlines must not move when the wall clock does, so this stays
    /// apart from [`moat_protocol::time::now_ms`].
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    fn set_deadline(&self, after: Option<Duration>) {
        let at = after.map_or(NEVER, |after| {
            let after = u64::try_from(after.as_millis()).unwrap_or(NEVER - 1);
            self.now_ms().saturating_add(after).min(NEVER - 1)
        });
        self.read_deadline_ms.store(at, Ordering::Release);
    }

    fn read_deadline(&self) -> Option<Instant> {
        match self.read_deadline_ms.load(Ordering::Acquire) {
            NEVER => None,
            ms => Some(self.start + Duration::from_millis(ms)),
        }
    }

    /// A request head is complete: no read deadline while it is answered
    /// (its body has its own, see [`TimedBody`]).
    pub(crate) fn request_started(&self) {
        self.phase.store(BUSY, Ordering::Release);
        self.set_deadline(None);
    }

    /// The answer is sent (or dropped): wait for the next request, at most
    /// the idle timeout.
    pub(crate) fn response_ended(&self) {
        self.phase.store(WAITING, Ordering::Release);
        self.set_deadline(Some(self.limits.idle_timeout));
    }

    /// Bytes came while waiting: the head they start must be complete
    /// within the header timeout.
    fn bytes_arrived(&self) {
        if self
            .phase
            .compare_exchange(WAITING, READING_HEAD, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.set_deadline(Some(self.limits.header_timeout));
        }
    }

    pub(crate) fn body_timeout(&self) -> Duration {
        self.limits.body_timeout
    }

    pub(crate) fn mark_body_timed_out(&self) {
        self.body_timed_out.store(true, Ordering::Release);
    }

    pub(crate) fn body_timed_out(&self) -> bool {
        self.body_timed_out.load(Ordering::Acquire)
    }
}

/// A connection's socket (TCP or TLS) under its [`ConnectionClock`]:
/// reads fail with `TimedOut` once the read deadline passes, and writes
/// fail once the client has left written bytes unread for the idle
/// timeout (a stream nobody reads).
pub(crate) struct TimedIo<T> {
    inner: T,
    clock: Arc<ConnectionClock>,
    read_timer: Option<(Instant, Pin<Box<Sleep>>)>,
    write_stall: Option<Pin<Box<Sleep>>>,
}

impl<T> TimedIo<T> {
    pub(crate) fn new(inner: T, clock: Arc<ConnectionClock>) -> Self {
        Self {
            inner,
            clock,
            read_timer: None,
            write_stall: None,
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_arrived();
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => {}
        }
        let Some(deadline) = this.clock.read_deadline() else {
            this.read_timer = None;
            return Poll::Pending;
        };
        if Instant::now() >= deadline {
            return Poll::Ready(Err(timed_out("the client sent nothing in time")));
        }
        let timer = match &mut this.read_timer {
            Some((at, sleep)) if *at == deadline => sleep,
            _ => {
                let (_, sleep) = this
                    .read_timer
                    .insert((deadline, Box::pin(tokio::time::sleep_until(deadline))));
                sleep
            }
        };
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out("the client sent nothing in time"))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> TimedIo<T> {
    /// A write that is still pending: fail once it has been for the idle
    /// timeout.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let idle = self.clock.limits.idle_timeout;
        let stall = self
            .write_stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(timed_out("the client read nothing in time")),
            Poll::Pending => Poll::Pending,
        }
    }

    fn after_write<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match result {
            Poll::Pending => match self.stalled(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
            ready => {
                self.write_stall = None;
                ready
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.after_write(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after_write(cx, result)
    }
}

/// The request body did not arrive within the body timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// A request body that must be complete within the body timeout; after
/// that its next frame is the error [`BodyTimedOut`].
pub(crate) struct TimedBody<B> {
    inner: B,
    deadline: Pin<Box<Sleep>>,
    clock: Arc<ConnectionClock>,
}

impl<B> TimedBody<B> {
    pub(crate) fn new(inner: B, clock: Arc<ConnectionClock>) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(clock.body_timeout())),
            clock,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.clock.mark_body_timed_out();
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the connection's clock when it is done
/// (sent or dropped), so the wait for the next request starts then.
pub(crate) struct ClockedBody<B> {
    inner: B,
    clock: Arc<ConnectionClock>,
}

impl<B> ClockedBody<B> {
    pub(crate) fn new(inner: B, clock: Arc<ConnectionClock>) -> Self {
        Self { inner, clock }
    }
}

impl<B> Drop for ClockedBody<B> {
    fn drop(&mut self) {
        self.clock.response_ended();
    }
}

impl<B: Body + Unpin> Body for ClockedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits(per_client: usize, total: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_per_client: per_client,
            max_total: total,
            ..ConnectionLimits::default()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn each_client_gets_its_share_and_gets_it_back() {
        let open = OpenConnections::new(limits(2, 10));
        let a = open.admit(ip("10.0.0.1")).unwrap();
        let _b = open.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(open.admit(ip("10.0.0.1")).unwrap_err(), Refused::ClientFull);
        // Another client is not affected.
        let _c = open.admit(ip("10.0.0.2")).unwrap();
        drop(a);
        let _d = open.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(open.admit(ip("10.0.0.1")).unwrap_err(), Refused::ClientFull);
    }

    #[test]
    fn the_total_cap_holds_for_everyone() {
        let open = OpenConnections::new(limits(5, 2));
        let _a = open.admit(ip("10.0.0.1")).unwrap();
        let b = open.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(open.admit(ip("10.0.0.3")).unwrap_err(), Refused::ServerFull);
        drop(b);
        assert!(open.admit(ip("10.0.0.3")).is_ok());
        assert!(open.counts().per_client.len() <= 2);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let open = OpenConnections::new(limits(1, 10));
        let _a = open.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            open.admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refused::ClientFull
        );
        assert!(open.admit(ip("2001:db8:1:3::1")).is_ok());
        let _v4 = open.admit(ip("10.1.2.3")).unwrap();
        assert_eq!(
            open.admit(ip("::ffff:10.1.2.3")).unwrap_err(),
            Refused::ClientFull
        );
    }

    #[test]
    fn the_read_deadline_follows_the_phase() {
        let clock = ConnectionClock::new(ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ConnectionLimits::default()
        });
        let after = |secs: u64| {
            clock
                .read_deadline()
                .map(|at| (at - clock.start).as_secs_f64() - secs as f64)
        };
        assert!(after(10).is_some_and(|d| d.abs() < 0.5));
        clock.request_started();
        assert_eq!(clock.read_deadline(), None);
        clock.response_ended();
        assert!(after(60).is_some_and(|d| d.abs() < 0.5));
        clock.bytes_arrived();
        assert!(after(10).is_some_and(|d| d.abs() < 0.5));
        // Only the first bytes of a head set it.
        clock.read_deadline_ms.store(1234, Ordering::Release);
        clock.bytes_arrived();
        assert_eq!(clock.read_deadline_ms.load(Ordering::Acquire), 1234);
    }

    fn within(took: Duration, expected: Duration) -> bool {
        took >= expected && took < expected + Duration::from_millis(500)
    }

    #[tokio::test]
    async fn a_silent_client_times_out_a_read() {
        use tokio::io::AsyncReadExt;

        let (_client, server) = tokio::io::duplex(64);
        let clock = ConnectionClock::new(ConnectionLimits {
            header_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        });
        let mut io = TimedIo::new(server, clock);
        let started = Instant::now();
        let error = io.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            within(started.elapsed(), Duration::from_millis(300)),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_unread_response_times_out_a_write() {
        use tokio::io::AsyncWriteExt;

        let (_client, server) = tokio::io::duplex(16);
        let clock = ConnectionClock::new(ConnectionLimits {
            idle_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        });
        let mut io = TimedIo::new(server, clock);
        let started = Instant::now();
        let error = io.write_all(&[b'x'; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            within(started.elapsed(), Duration::from_millis(300)),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_short_body_times_out_and_marks_the_connection() {
        use http_body_util::BodyExt;

        let clock = ConnectionClock::new(ConnectionLimits {
            body_timeout: Duration::from_millis(300),
            ..ConnectionLimits::default()
        });
        let (mut sender, body) = http_body_util_channel();
        sender
            .send_data(Bytes::from_static(b"{\"a\""))
            .await
            .unwrap();
        let timed = TimedBody::new(body, clock.clone());
        let started = Instant::now();
        let error = timed.collect().await.err().unwrap();
        assert!(error.downcast_ref::<BodyTimedOut>().is_some(), "{error}");
        assert!(clock.body_timed_out());
        assert!(
            within(started.elapsed(), Duration::from_millis(300)),
            "{:?}",
            started.elapsed()
        );
        drop(sender);
    }

    /// A body whose frames a test sends, that never ends by itself.
    fn http_body_util_channel() -> (
        http_body_util::channel::Sender<Bytes>,
        http_body_util::channel::Channel<Bytes>,
    ) {
        http_body_util::channel::Channel::new(4)
    }
}
