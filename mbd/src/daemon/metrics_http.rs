//! mbd's metrics endpoint (`LL_MBD_METRICS_PORT`): HTTP on a raw channel
//! of mbd's own event loop, `GET /metrics` answered with the counters
//! kept as mbd runs and gauges read at that moment (`crate::metrics`).
//! A scrape costs one walk over the jobs mbd holds (a million: tens of
//! milliseconds); at most [`MAX_SCRAPERS`] connections are kept, each for
//! at most [`SCRAPER_IDLE`] without a request.

use super::Mbd;
use crate::metrics::{self, Gauges};
use chan::ChanId;
use http1::Response;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const MAX_SCRAPERS: usize = 64;
const SCRAPER_IDLE: Duration = Duration::from_secs(60);

/// The listener and the scrapers' connections: unparsed bytes, last heard.
pub(super) struct MetricsEndpoint {
    pub(super) listener: ChanId,
    conns: HashMap<ChanId, (Vec<u8>, Instant)>,
}

impl MetricsEndpoint {
    pub(super) fn new(listener: ChanId) -> MetricsEndpoint {
        MetricsEndpoint {
            listener,
            conns: HashMap::new(),
        }
    }
}

impl Mbd {
    pub(super) fn is_scraper(&self, id: ChanId) -> bool {
        self.metrics_http
            .as_ref()
            .is_some_and(|m| m.conns.contains_key(&id))
    }

    pub(super) fn on_scraper(&mut self, id: ChanId) {
        let Some(m) = self.metrics_http.as_mut() else {
            return;
        };
        if m.conns.len() >= MAX_SCRAPERS {
            log::warn!("metrics: {MAX_SCRAPERS} connections open already; refusing one");
            let _ = self.chans.close(id);
            return;
        }
        m.conns.insert(id, (Vec::new(), Instant::now()));
    }

    pub(super) fn on_scrape_bytes(&mut self, id: ChanId, data: &[u8]) {
        let (state, counters) = (&self.state, &self.counters);
        let mut gauges = Gauges {
            queues: Vec::new(),
            hosts: self.settings.cluster.hosts.len(),
            sbds_connected: self.sbds.len(),
            clients_connected: self.clients.len(),
        };
        let Some((buf, heard)) = (self.metrics_http.as_mut()).and_then(|m| m.conns.get_mut(&id))
        else {
            return;
        };
        buf.extend_from_slice(data);
        *heard = Instant::now();
        let mut out = Vec::new();
        let mut close = http1::serve(buf, &mut out, |r| match (r.method, r.path()) {
            ("GET" | "HEAD", "/metrics") => {
                // Read only when asked for: it walks every job mbd holds.
                gauges.queues = (state.queue_rows().into_iter())
                    .map(|q| (q.name, [q.pend, q.held, q.run, q.susp]))
                    .collect();
                let text = metrics::render(counters, &gauges);
                Response::new(200, "OK", metrics::CONTENT_TYPE, text.into_bytes())
            }
            _ => Response::new(404, "Not Found", "text/plain", &b"GET /metrics only\n"[..]),
        });
        if !out.is_empty() && self.chans.send(id, &out).is_err() {
            close = true;
        }
        if close {
            self.drop_scraper(id);
        }
    }

    /// Closes a scraper's connection once its answers are sent.
    pub(super) fn drop_scraper(&mut self, id: ChanId) {
        if let Some(m) = self.metrics_http.as_mut() {
            m.conns.remove(&id);
        }
        if self.chans.close_when_flushed(id).is_err() {
            let _ = self.chans.close(id);
        }
    }

    pub(super) fn close_idle_scrapers(&mut self) {
        let Some(m) = self.metrics_http.as_ref() else {
            return;
        };
        let idle: Vec<ChanId> = (m.conns.iter())
            .filter(|(_, (_, heard))| heard.elapsed() > SCRAPER_IDLE)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.drop_scraper(id);
        }
    }
}
