//! [`JobOptions`]: the submit options added after protocol 2.0 (LSF's,
//! mostly), carried at the end of a submission and of a job start.
//!
//! They travel as a tagged list behind a marker word, so that
//! - a body without them (a 2.0 `bsub`, an event-log record or spool
//!   written before they existed) decodes with all of them unset: where
//!   the marker is not, nothing is read;
//! - an option added later is a new tag, not a new layout, and a daemon
//!   that does not know a tag refuses the body instead of dropping what
//!   the user asked for.

use crate::xdr::{put_opaque, DecodeError, Reader};
use crate::{Decode, Encode};
use bytes::BufMut;

/// Marks the start of the options ("OPTS"). The word it replaces in an
/// older layout is an array count or the end of the body, never this.
const MARKER: u32 = 0x4f50_5453;

mod tag {
    pub const SCRIPT: u32 = 1;
    pub const RUN_LIMIT: u32 = 2;
    pub const MAX_RUNNING: u32 = 3;
    pub const ARRAY_INDICES: u32 = 4;
    pub const RERUNNABLE: u32 = 5;
    pub const PRE_EXEC: u32 = 6;
    pub const POST_EXEC: u32 = 7;
    pub const MAIL_USER: u32 = 8;
    pub const NOTIFY_BEGIN: u32 = 9;
    pub const NOTIFY_END: u32 = 10;
}

/// Submit options beyond LavaLite's; each unset is its default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobOptions {
    /// `bsub < script` (or a parsed `bsub script`): the script's text,
    /// which the job runs.
    pub script: String,
    /// `-W`: seconds of run time before the job is stopped (0: none).
    pub run_limit: u64,
    /// `-J "name[1-10]%L"`: elements of the array that may run at once
    /// (0: no limit).
    pub max_running: u32,
    /// `-J "name[1,4,7-9]"`: an array's indices when they are not one
    /// range (ascending; a single range travels as the `ArraySpec`).
    pub array_indices: Vec<u32>,
    /// `-r`: if its host is lost, the job goes back to PEND (same id)
    /// instead of ending EXIT.
    pub rerunnable: bool,
    /// `-E`: run before the job on its first host, as its user; the job
    /// runs only if it exits 0.
    pub pre_exec: String,
    /// `-Ep`: run after the job, whatever its end.
    pub post_exec: String,
    /// `-u`: where the job's mail goes (default: its user).
    pub mail_user: String,
    /// `-B`: mail when the job starts.
    pub notify_begin: bool,
    /// `--notify-end` (LSF's `-N`): mail the job report when it ends.
    pub notify_end: bool,
}

impl Encode for JobOptions {
    fn encode<B: BufMut>(&self, out: &mut B) {
        let mut fields: Vec<(u32, Vec<u8>)> = Vec::new();
        let mut field = |tag: u32, set: bool, value: &dyn Fn(&mut Vec<u8>)| {
            if set {
                let mut bytes = Vec::new();
                value(&mut bytes);
                fields.push((tag, bytes));
            }
        };
        field(tag::SCRIPT, !self.script.is_empty(), &|b| {
            self.script.encode(b)
        });
        field(tag::RUN_LIMIT, self.run_limit != 0, &|b| {
            self.run_limit.encode(b)
        });
        field(tag::MAX_RUNNING, self.max_running != 0, &|b| {
            self.max_running.encode(b)
        });
        field(tag::ARRAY_INDICES, !self.array_indices.is_empty(), &|b| {
            self.array_indices.encode(b)
        });
        field(tag::RERUNNABLE, self.rerunnable, &|b| {
            self.rerunnable.encode(b)
        });
        field(tag::PRE_EXEC, !self.pre_exec.is_empty(), &|b| {
            self.pre_exec.encode(b)
        });
        field(tag::POST_EXEC, !self.post_exec.is_empty(), &|b| {
            self.post_exec.encode(b)
        });
        field(tag::MAIL_USER, !self.mail_user.is_empty(), &|b| {
            self.mail_user.encode(b)
        });
        field(tag::NOTIFY_BEGIN, self.notify_begin, &|b| {
            self.notify_begin.encode(b)
        });
        field(tag::NOTIFY_END, self.notify_end, &|b| {
            self.notify_end.encode(b)
        });
        out.put_u32(MARKER);
        out.put_u32(fields.len() as u32);
        for (tag, bytes) in fields {
            out.put_u32(tag);
            put_opaque(out, &bytes);
        }
    }
}

impl Decode for JobOptions {
    const MIN_LEN: usize = 0;

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut options = JobOptions::default();
        if r.peek_u32() != Some(MARKER) {
            return Ok(options);
        }
        r.u32()?;
        // A tag and an empty opaque: 8 bytes at least.
        for _ in 0..r.count(8)? {
            let tag = r.u32()?;
            let value = r.opaque()?;
            match tag {
                tag::SCRIPT => options.script = String::from_body(value)?,
                tag::RUN_LIMIT => options.run_limit = u64::from_body(value)?,
                tag::MAX_RUNNING => options.max_running = u32::from_body(value)?,
                tag::ARRAY_INDICES => options.array_indices = Vec::from_body(value)?,
                tag::RERUNNABLE => options.rerunnable = bool::from_body(value)?,
                tag::PRE_EXEC => options.pre_exec = String::from_body(value)?,
                tag::POST_EXEC => options.post_exec = String::from_body(value)?,
                tag::MAIL_USER => options.mail_user = String::from_body(value)?,
                tag::NOTIFY_BEGIN => options.notify_begin = bool::from_body(value)?,
                tag::NOTIFY_END => options.notify_end = bool::from_body(value)?,
                other => {
                    return Err(DecodeError::BadValue {
                        field: "job option",
                        value: other,
                    })
                }
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(options: &JobOptions) -> Vec<u8> {
        let mut out = Vec::new();
        options.encode(&mut out);
        out
    }

    #[test]
    fn options_round_trip_and_unset_ones_take_no_room() {
        let options = JobOptions {
            script: "#!/bin/sh\necho hi\n".into(),
            run_limit: 600,
            max_running: 4,
            array_indices: vec![1, 3, 9],
            rerunnable: true,
            pre_exec: "test -d /scratch".into(),
            post_exec: "rm -rf /scratch/x".into(),
            mail_user: "ann@example.org".into(),
            notify_begin: true,
            notify_end: true,
        };
        assert_eq!(JobOptions::from_body(&bytes_of(&options)), Ok(options));
        assert_eq!(
            bytes_of(&JobOptions::default()),
            [0x4f, 0x50, 0x54, 0x53, 0, 0, 0, 0]
        );
    }

    #[test]
    fn a_body_without_them_has_none_and_loses_nothing_after() {
        // Where an older layout has the next field (an array count), or
        // the end of the body, nothing is consumed.
        let mut r = Reader::new(&[0, 0, 0, 2, 9, 9, 9, 9]);
        assert_eq!(JobOptions::decode(&mut r), Ok(JobOptions::default()));
        assert_eq!(r.remaining(), 8);
        assert_eq!(JobOptions::from_body(&[]), Ok(JobOptions::default()));
    }

    #[test]
    fn an_unknown_option_is_refused_not_dropped() {
        let mut body = vec![0x4f, 0x50, 0x54, 0x53, 0, 0, 0, 1, 0, 0, 0, 99];
        body.extend([0, 0, 0, 0]);
        assert_eq!(
            JobOptions::from_body(&body),
            Err(DecodeError::BadValue {
                field: "job option",
                value: 99
            })
        );
    }
}
