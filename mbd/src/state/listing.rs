//! What the query commands list: `bjobs`, `bhist`, `bacct`, `bqueues`, `btokens`,
//! `bgroups` and `bhosts` rows, filtered by who asks.

use super::{Caller, Refusal, State};
use crate::acct::{self, Tally};
use crate::cluster::HostStatus;
use crate::job::Job;
use crate::job::PendReason;
use proto::mbd::{
    event, AcctRecord, AcctRequest, GroupRow, HistoryRequest, HostRow, JobHistory, JobRef, JobRow,
    JobState, JobsRequest, QueueRow, ShareRow, TokenRow,
};

impl State {
    fn visible(&self, who: &Caller, user_filter: &str, job: &Job) -> bool {
        who.may_act_on(job) && (user_filter.is_empty() || job.spec.user == user_filter)
    }

    /// The jobs a listing shows: the named job (checked for permission),
    /// or the caller's visible jobs matching the filters.
    fn listed(
        &self,
        who: &Caller,
        named: JobRef,
        user: &str,
        lists: [bool; 3],
    ) -> Result<Vec<&Job>, Refusal> {
        if named.id != 0 {
            let jobs = self.resolve(named)?;
            if jobs.iter().all(|j| !self.visible(who, "", j)) {
                return Err(super::request::not_yours(jobs[0]));
            }
            return Ok(jobs
                .into_iter()
                .filter(|j| self.visible(who, "", j))
                .collect());
        }
        let [pend, run, done] = lists;
        // One user's jobs (asked for, or all a non-admin may see) come from
        // the index by user: a backlog of a million others costs nothing.
        let only = match (user, who.admin) {
            ("", true) => None,
            ("", false) => Some(who.user.as_str()),
            (user, _) => Some(user),
        };
        let candidates: Box<dyn Iterator<Item = &Job>> = match only {
            Some(user) => Box::new(self.jobs_of(user)),
            None => Box::new(self.jobs.values()),
        };
        let (mut pending, mut running, mut finished) = (Vec::new(), Vec::new(), Vec::new());
        for job in candidates.filter(|j| self.visible(who, user, j)) {
            let list = match job.state {
                s if s.is_pending() => (pend, &mut pending),
                s if s.is_finished() => (done, &mut finished),
                _ => (run, &mut running),
            };
            if list.0 {
                list.1.push(job);
            }
        }
        let mut out = self.in_order(pending.into_iter());
        out.append(&mut running);
        out.append(&mut finished);
        Ok(out)
    }

    /// `bjobs` rows, in mbd's list order.
    pub fn job_rows(
        &self,
        who: &Caller,
        req: &JobsRequest,
    ) -> Result<impl Iterator<Item = JobRow> + '_, Refusal> {
        let no_flag = !(req.pend || req.run || req.done);
        let lists = [req.pend || no_flag, req.run || no_flag, req.done];
        let jobs = self.listed(who, req.job, &req.user, lists)?;
        Ok(jobs.into_iter().map(|j| self.row(j)))
    }

    /// Why a PEND job waits: a reason of its own (its dependency or
    /// `--begin` time, checked now, as a pass that did not reach it would
    /// have), else what the last pass said of jobs like it.
    fn pend_reason(&self, job: &Job) -> PendReason {
        (self.reasons.own(job.id))
            .or_else(|| crate::sched::ready(self, job, self.reasons.time()).err())
            .or_else(|| self.reasons.shared(job))
            .unwrap_or(PendReason::Scheduling)
    }

    fn row(&self, job: &Job) -> JobRow {
        let pend_reason = match job.state {
            JobState::Pend => self.pend_reason(job).as_str().to_owned(),
            _ => String::new(),
        };
        let last = |what: u32| job.events.iter().rev().find(|e| e.what == what);
        let dispatched = last(event::DISPATCHED);
        let finished = last(event::FINISHED).filter(|_| job.state.is_finished());
        JobRow {
            id: job.id,
            array_id: job.array_id,
            index: job.index,
            user: job.spec.user.clone(),
            state: self.shown_state(job),
            queue: job.spec.queue.clone(),
            priority: job.priority,
            hosts: job.slots(|h| self.cluster.hosts[h].name.clone()),
            name: job.spec.request.name.clone(),
            submit_time: job.spec.submit_time,
            pend_reason,
            start_time: dispatched.map_or(0, |e| e.time),
            end_time: finished.map_or(0, |e| e.time),
            exit_code: finished.map_or(0, |e| e.code),
            run_usage: self.run_usage.get(&job.id).copied().unwrap_or_default(),
        }
    }

    /// `bhist` jobs, by job id.
    pub fn history(
        &self,
        who: &Caller,
        req: &HistoryRequest,
    ) -> Result<impl Iterator<Item = JobHistory> + '_, Refusal> {
        let mut jobs = self.listed(who, req.job, &req.user, [true, true, true])?;
        jobs.sort_by_key(|j| j.id);
        Ok(jobs.into_iter().map(|j| {
            let mut spec = j.spec.full_request();
            // The limit it runs under, its queue's if it set none.
            spec.options.run_limit = self.run_limit_of(j);
            JobHistory {
                row: self.row(j),
                spec,
                events: j.events.clone(),
            }
        }))
    }

    /// `bacct` over the finished jobs mbd holds.
    pub fn acct(&self, who: &Caller, req: &AcctRequest) -> Tally {
        let filter = acct::Filter::new(req, who.admin, &who.user);
        let mut tally = Tally::new(req);
        (self.jobs.values().filter(|j| j.state.is_finished()))
            .filter_map(|j| self.acct_record(j))
            .filter(|r| filter.matches(r))
            .for_each(|r| tally.add(r));
        tally
    }

    /// The accounting of job `id`, if mbd holds it and it has finished.
    pub fn acct_of(&self, id: u32) -> Option<AcctRecord> {
        self.jobs.get(&id).and_then(|j| self.acct_record(j))
    }

    fn acct_record(&self, j: &Job) -> Option<AcctRecord> {
        acct::record(&self.row(j), &j.events, &j.spec.request.command)
    }

    /// Fills in each fair-share queue's accounts at `now`.
    pub fn add_shares(&self, rows: &mut [QueueRow], now: u64) {
        let fairshare = crate::fairshare::FairShare::new(self, now, self.cluster.fairshare, None);
        for (q, row) in rows.iter_mut().enumerate() {
            row.shares = (fairshare.accounts(q).into_iter())
                .map(|(account, shares, priority, usage)| ShareRow {
                    account,
                    shares,
                    priority_milli: (priority * 1000.0).round() as u64,
                    started: usage.slots,
                    cpu_secs: (usage.cpu_hours * 3600.0).round() as u64,
                    run_secs: (usage.run_hours * 3600.0).round() as u64,
                })
                .collect();
        }
    }

    pub fn queue_rows(&self) -> Vec<QueueRow> {
        let mut rows: Vec<QueueRow> = (self.cluster.queues.iter().enumerate())
            .map(|(i, q)| QueueRow {
                name: q.name.clone(),
                priority: q.priority,
                open: self.queue_open(i),
                accepting: self.queue_accepting(i),
                description: q.description.clone(),
                users: q.users_text.clone(),
                hosts: q.hosts_text.clone(),
                pend: 0,
                held: 0,
                run: 0,
                susp: 0,
                used_cpus: 0,
                used_hosts: 0,
                max_slots: q.limits.total.unwrap_or(0),
                user_slots: q.limits.per_user.unwrap_or(0),
                host_slots: q.limits.per_host.unwrap_or(0),
                processor_slots: (q.limits.per_processor).map_or(String::new(), |p| p.to_string()),
                shares: Vec::new(),
            })
            .collect();
        for (q, row) in rows.iter_mut().enumerate() {
            let t = self.index.queues.get(&q).copied().unwrap_or_default();
            (row.pend, row.held, row.run, row.susp) = (t.pend, t.held, t.run, t.susp);
            (row.used_cpus, row.used_hosts) = (t.used_cpus, t.used_hosts);
        }
        rows
    }

    /// What is free in each token pool: what running and suspended jobs
    /// do not hold.
    pub fn free_tokens(&self) -> Vec<u32> {
        let mut free: Vec<u32> = self.cluster.pools.iter().map(|p| p.available).collect();
        for job in self.allocated_jobs() {
            job.take_tokens(&self.cluster, &mut free);
        }
        free
    }

    /// `btokens` rows: each pool, and what running jobs hold of it.
    pub fn token_rows(&self) -> Vec<TokenRow> {
        let free = self.free_tokens();
        (self.cluster.pools.iter().zip(free))
            .map(|(p, free)| TokenRow {
                name: p.name.clone(),
                total: p.available,
                used: p.available - free,
            })
            .collect()
    }

    /// `bgroups` rows, in configuration order.
    pub fn group_rows(&self) -> Vec<GroupRow> {
        (self.cluster.groups.iter())
            .map(|g| GroupRow {
                name: g.name.clone(),
                members: g.members.clone(),
            })
            .collect()
    }

    pub fn host_rows(&self, status: &[HostStatus]) -> Vec<HostRow> {
        let mut rows: Vec<HostRow> = (self.cluster.hosts.iter().enumerate())
            .map(|(i, h)| HostRow {
                name: h.name.clone(),
                available: status.get(i).copied().unwrap_or_default().up,
                sbd: self.sbd_up(i),
                closed: !self.host_open(i),
                ncpu: h.cpus,
                mem_mb: h.mem_mb,
                storage_mb: h.storage_mb,
                ngpu: h.gpu_ids.len() as u32,
                njobs: 0,
                run: 0,
                susp: 0,
                used_cpu: 0,
                used_mb: 0,
                used_storage_mb: 0,
                used_gpu: 0,
                gpu_model: h.gpu_model.clone().unwrap_or_default(),
                gpu_ids: h.gpu_ids_text.clone(),
                max_slots: h.max_slots.unwrap_or(0),
                user_slots: h.user_slots.unwrap_or(0),
            })
            .collect();
        for job in self.allocated_jobs() {
            for a in &job.alloc {
                let Some(row) = rows.get_mut(a.host) else {
                    continue;
                };
                row.njobs += 1;
                if job.state == JobState::Susp {
                    row.susp += 1;
                } else {
                    row.run += 1;
                }
                row.used_cpu += a.cpus;
                row.used_mb += job.spec.request.mem_mb;
                row.used_storage_mb += job.spec.request.storage_mb;
                row.used_gpu += a.gpus.len() as u32;
            }
        }
        rows
    }
}
