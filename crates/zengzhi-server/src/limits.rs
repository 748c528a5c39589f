//! Rate limits and the body deadline, as middleware of the API router.
//!
//! - Every request carrying a credential is charged to that credential's token bucket: API key,
//!   member (or store) token, or operator session, each kind with its own [`Rate`]. The bucket is
//!   keyed by the credential itself (hashed with this process's random key), before it is
//!   verified, so a flood with one stolen or made-up token is stopped without a store lookup.
//! - Requests without a credential are charged to the client's address. Requests whose
//!   credential was refused (401) are charged to a second bucket of the address (at the same
//!   rate), and while that one is empty the address's requests with credentials are refused
//!   too: guessing tokens costs the guesser, and members who merely share an address (a
//!   carrier's NAT) are not held up by others' requests without a credential.
//! - Over a limit: 429 `rate_limited` with `Retry-After` (whole seconds), counted in
//!   `zengzhi_rate_limited_total{kind}`. Nothing else happens.
//!
//! A bucket holds up to `burst` requests and refills at `per_s` a second; state is in memory
//! (a restart refills every bucket). Full buckets are forgotten when the table grows large.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::{Rate, RateLimits};
use crate::error::{ApiCode, ApiError};
use crate::AppState;

/// Buckets kept per kind before full ones are forgotten.
const SWEEP_AT: usize = 100_000;

/// A request's worth, in thousandths of a request (integer arithmetic throughout).
const ONE: u64 = 1000;

/// Which bucket table a request is charged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiKey,
    Member,
    Session,
    Address,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::ApiKey, Kind::Member, Kind::Session, Kind::Address];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ApiKey => "api_key",
            Kind::Member => "member",
            Kind::Session => "session",
            Kind::Address => "address",
        }
    }

    /// The kind of a bearer token, by its form (not verified here).
    pub fn of_token(token: &str) -> Kind {
        if token.starts_with("mt.") || token.starts_with("st.") || crate::auth::looks_like_jwt(token) {
            Kind::Member
        } else if token.starts_with(crate::accounts::SESSION_PREFIX) {
            Kind::Session
        } else {
            Kind::ApiKey
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of a request available at `at`.
    level: u64,
    at: Instant,
}

/// One kind's buckets.
#[derive(Debug)]
pub struct Buckets {
    rate: Rate,
    table: Mutex<HashMap<u64, Bucket>>,
}

impl Buckets {
    pub fn new(rate: Rate) -> Buckets {
        Buckets { rate, table: Mutex::new(HashMap::new()) }
    }

    fn capacity(&self) -> u64 {
        u64::from(self.rate.burst) * ONE
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> u64 {
        let ms = u64::try_from(now.saturating_duration_since(bucket.at).as_millis()).unwrap_or(u64::MAX);
        // per_s requests a second = per_s thousandths of a request a millisecond.
        bucket.level.saturating_add(ms.saturating_mul(u64::from(self.rate.per_s))).min(self.capacity())
    }

    /// How long until one request's worth is there, from `level`.
    fn wait(&self, level: u64) -> Duration {
        let missing = ONE.saturating_sub(level);
        Duration::from_millis(missing.div_ceil(u64::from(self.rate.per_s.max(1))))
    }

    /// Takes one request from `key`'s bucket; the wait until one is there if it is empty.
    pub fn take(&self, key: u64, now: Instant) -> Result<(), Duration> {
        if self.rate.per_s == 0 {
            return Ok(());
        }
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= SWEEP_AT && !table.contains_key(&key) {
            let capacity = self.capacity();
            table.retain(|_, b| self.refilled(*b, now) < capacity);
            if table.len() >= SWEEP_AT {
                // Every bucket in use: forget them all rather than grow without bound.
                table.clear();
            }
        }
        let bucket = table.entry(key).or_insert(Bucket { level: self.capacity(), at: now });
        let level = self.refilled(*bucket, now);
        if level < ONE {
            return Err(self.wait(level));
        }
        *bucket = Bucket { level: level - ONE, at: now };
        Ok(())
    }

    /// The wait if `key`'s bucket is empty now (nothing is taken).
    pub fn empty(&self, key: u64, now: Instant) -> Option<Duration> {
        if self.rate.per_s == 0 {
            return None;
        }
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let level = self.refilled(*table.get(&key)?, now);
        (level < ONE).then(|| self.wait(level))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap().len()
    }
}

/// Every kind's buckets, and the process's hash key for credentials and addresses.
#[derive(Debug)]
pub struct RateLimiter {
    api_key: Buckets,
    member: Buckets,
    session: Buckets,
    address: Buckets,
    /// Refused credentials (401) per address.
    refused: Buckets,
    hasher: std::collections::hash_map::RandomState,
}

impl RateLimiter {
    pub fn new(rates: &RateLimits) -> RateLimiter {
        RateLimiter {
            api_key: Buckets::new(rates.api_key),
            member: Buckets::new(rates.member),
            session: Buckets::new(rates.session),
            address: Buckets::new(rates.address),
            refused: Buckets::new(rates.address),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub fn buckets(&self, kind: Kind) -> &Buckets {
        match kind {
            Kind::ApiKey => &self.api_key,
            Kind::Member => &self.member,
            Kind::Session => &self.session,
            Kind::Address => &self.address,
        }
    }

    pub fn key(&self, text: &str) -> u64 {
        self.hasher.hash_one(text)
    }
}

fn too_many(wait: Duration) -> Response {
    let secs = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ApiCode::RateLimited,
        format!("请求过于频繁，请 {secs} 秒后再试 / too many requests; try again in {secs} s"),
    )
    .retry_after(secs)
}

/// The rate limits of [`RateLimiter`] (see the module's documentation).
pub async fn rate_limit(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let limiter = &state.rate_limiter;
    let now = Instant::now();
    let (parts, body) = request.into_parts();
    let address = crate::guards::client_address(&state, &parts);
    let address_key = limiter.key(&address);
    let token = crate::auth::bearer(&parts.headers).map(|t| (Kind::of_token(t), limiter.key(t)));
    let refused = match token {
        None => limiter.address.take(address_key, now).err().map(|wait| (Kind::Address, wait)),
        Some((kind, key)) => match limiter.refused.empty(address_key, now) {
            Some(wait) => Some((Kind::Address, wait)),
            None => limiter.buckets(kind).take(key, now).err().map(|wait| (kind, wait)),
        },
    };
    if let Some((kind, wait)) = refused {
        state.metrics.rate_limited(kind.as_str());
        return too_many(wait);
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if token.is_some() && response.status() == StatusCode::UNAUTHORIZED {
        let _ = limiter.refused.take(address_key, Instant::now());
    }
    response
}

/// Reads the whole body within `limits.body_timeout_s` (408 `request_timeout` if it does not
/// arrive in time; 413 if it is larger than the largest body any route takes), so a client
/// sending a byte at a time cannot hold a request open.
pub async fn body_deadline(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let limit = state.config.max_body_bytes;
    let deadline = Duration::from_secs(state.config.limits.body_timeout_s.max(1));
    let bytes = match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let too_large = e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some();
            return if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ApiCode::PayloadTooLarge,
                    "the request body is too large / 请求体过大",
                )
            } else {
                ApiError::bad_request(ApiCode::InvalidRequest, "the request body could not be read / 请求体读取失败")
            }
            .into_response();
        }
        Err(_) => {
            let mut r = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ApiCode::RequestTimeout,
                format!("the request body did not arrive within {} s / 请求体未在规定时间内送达", deadline.as_secs()),
            )
            .into_response();
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::new(Rate { per_s: 10, burst: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.take(1, t0), Ok(()));
        }
        // Empty: the next request's worth comes in 1/10 s.
        assert_eq!(b.take(1, t0), Err(Duration::from_millis(100)));
        assert_eq!(b.empty(1, t0), Some(Duration::from_millis(100)));
        // Another key has its own bucket.
        assert_eq!(b.take(2, t0), Ok(()));
        // 40 ms later 0.4 of a request is there: 60 ms to wait.
        assert_eq!(b.take(1, at(t0, 40)), Err(Duration::from_millis(60)));
        assert_eq!(b.take(1, at(t0, 100)), Ok(()));
        assert_eq!(b.take(1, at(t0, 100)), Err(Duration::from_millis(100)));
        // A long pause refills only up to the burst.
        let later = at(t0, 60_000);
        for _ in 0..3 {
            assert_eq!(b.take(1, later), Ok(()));
        }
        assert!(b.take(1, later).is_err());
        assert_eq!(b.empty(3, later), None, "an unseen key is not empty");
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let b = Buckets::new(Rate::OFF);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(b.take(7, t0), Ok(()));
        }
        assert_eq!(b.empty(7, t0), None);
        assert_eq!(b.len(), 0, "nothing is kept");
    }

    #[test]
    fn the_table_forgets_full_buckets_and_stays_bounded() {
        let b = Buckets::new(Rate { per_s: 1000, burst: 1 });
        let t0 = Instant::now();
        for key in 0..SWEEP_AT as u64 {
            b.take(key, t0).unwrap();
        }
        assert_eq!(b.len(), SWEEP_AT);
        // A second later every bucket is full again: a new key sweeps them away.
        b.take(u64::MAX, at(t0, 1000)).unwrap();
        assert_eq!(b.len(), 1);
        // All in use at once: cleared rather than grown.
        let t1 = at(t0, 5000);
        for key in 0..SWEEP_AT as u64 {
            b.take(key, t1).unwrap();
        }
        b.take(u64::MAX - 1, t1).unwrap();
        assert!(b.len() <= SWEEP_AT, "{}", b.len());
    }

    #[test]
    fn tokens_are_told_apart_by_their_form() {
        assert_eq!(Kind::of_token("mt.abc.def"), Kind::Member);
        assert_eq!(Kind::of_token("st.abc.def"), Kind::Member);
        assert_eq!(Kind::of_token("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig"), Kind::Member);
        assert_eq!(Kind::of_token("zs_abcdef"), Kind::Session);
        assert_eq!(Kind::of_token("zk_abcdef"), Kind::ApiKey);
        assert_eq!(Kind::of_token("anything-else"), Kind::ApiKey);
    }
}
