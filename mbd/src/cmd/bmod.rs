//! `bmod [options] job_ref`: change a waiting job's submission, as LSF's
//! bmod: `-q` queue, `-n` CPUs per host, `-M` memory, `-W` run limit,
//! `-J` name, `-w` dependency; `-Wn`, `-Jn`, `-wn` take the value away;
//! `-H` holds it (as bstop; bresume releases it). Values are read as
//! bsub reads them.

use super::bsub::parse_size;
use super::{client, fail, parse_args_from, parse_job_ref, respell, VERSION};
use proto::mbd::{field, op, FieldChange, ModifyRequest, SignalRequest};
use std::process::ExitCode;

#[derive(clap::Parser, Debug, Default)]
#[command(
    name = "bmod",
    version = VERSION,
    disable_version_flag = true,
    infer_long_args = true,
    about = "Change a pending or held job's submission",
    override_usage = "bmod [options] job_ref"
)]
pub struct Args {
    #[arg(short = 'v', long, action = clap::ArgAction::Version, help = "Print the version")]
    version: Option<bool>,
    /// Queue
    #[arg(short = 'q', long, allow_hyphen_values = true)]
    queue: Option<String>,
    /// CPUs per host
    #[arg(short = 'n', long, allow_hyphen_values = true)]
    cpus: Option<String>,
    /// Memory per host: digits with optional M or G (default MB)
    #[arg(short = 'M', long, allow_hyphen_values = true)]
    mem: Option<String>,
    /// Run limit, [hours:]minutes
    #[arg(short = 'W', long = "run-limit", allow_hyphen_values = true)]
    run_limit: Option<String>,
    /// No run limit (LSF's -Wn)
    #[arg(long = "no-run-limit", conflicts_with = "run_limit")]
    no_run_limit: bool,
    /// Job name
    #[arg(short = 'J', long, allow_hyphen_values = true)]
    name: Option<String>,
    /// No job name (LSF's -Jn)
    #[arg(long = "no-name", conflicts_with = "name")]
    no_name: bool,
    /// Dependency expression
    #[arg(short = 'w', long, allow_hyphen_values = true)]
    dependency: Option<String>,
    /// No dependency (LSF's -wn)
    #[arg(long = "no-dependency", conflicts_with = "dependency")]
    no_dependency: bool,
    /// Hold the job (release it with bresume)
    #[arg(short = 'H', long)]
    hold: bool,
    /// N or N[i] (an array's id: each of its waiting elements)
    job_ref: String,
}

/// LSF's `-Xn` resets and this bmod's spelling of each.
const LSF_SPELLINGS: [(&str, &str); 3] = [
    ("-Wn", "--no-run-limit"),
    ("-Jn", "--no-name"),
    ("-wn", "--no-dependency"),
];

pub fn main() -> ExitCode {
    let argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv = respell(
        argv,
        &<Args as clap::CommandFactory>::command(),
        &LSF_SPELLINGS,
    );
    let args: Args = match parse_args_from(&argv) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let request = match request(&args) {
        Ok(r) => r,
        Err(e) => return fail("bmod", e),
    };
    let client = match client("bmod") {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !request.fields.is_empty() {
        if let Err(e) = client.call::<_, ()>(op::MODIFY, &request) {
            return fail("bmod", format!("job <{}>: {}", args.job_ref, e.reason()));
        }
    }
    if args.hold {
        let hold = SignalRequest {
            job: request.job,
            signal: libc::SIGSTOP as u32,
        };
        if let Err(e) = client.call::<_, ()>(op::SIGNAL, &hold) {
            return fail(
                "bmod",
                format!("job <{}>: cannot hold it: {}", args.job_ref, e.reason()),
            );
        }
    }
    os::sayln!("Parameters of job <{}> are being changed", args.job_ref);
    ExitCode::SUCCESS
}

fn request(a: &Args) -> Result<ModifyRequest, String> {
    let job = parse_job_ref(&a.job_ref).ok_or(format!("invalid job reference '{}'", a.job_ref))?;
    let mut fields = Vec::new();
    let mut set = |field: u32, value: String| fields.push(FieldChange { field, value });
    if let Some(q) = &a.queue {
        set(field::QUEUE, q.clone());
    }
    if let Some(n) = &a.cpus {
        let cpus = (n.parse::<u32>().ok()).filter(|n| *n > 0);
        set(
            field::CPUS,
            cpus.ok_or(format!("--cpus: invalid value '{n}'"))?
                .to_string(),
        );
    }
    if let Some(m) = &a.mem {
        set(
            field::MEM_MB,
            parse_size(m)
                .ok_or(format!("--mem: invalid value '{m}'"))?
                .to_string(),
        );
    }
    if let Some(w) = &a.run_limit {
        let limit = conf::parse_minutes(w).ok_or(format!(
            "--run-limit: invalid value '{w}', expected [hours:]minutes"
        ))?;
        set(field::RUN_LIMIT, limit.to_string());
    }
    if a.no_run_limit {
        set(field::RUN_LIMIT, String::new());
    }
    if let Some(name) = &a.name {
        crate::state::check_job_name(name).map_err(|e| format!("--name: {e}"))?;
        set(field::NAME, name.clone());
    }
    if a.no_name {
        set(field::NAME, String::new());
    }
    if let Some(dep) = &a.dependency {
        crate::depend::Dep::parse(dep)
            .map_err(|_| format!("--dependency: invalid expression '{dep}'"))?;
        set(field::DEPENDENCY, dep.clone());
    }
    if a.no_dependency {
        set(field::DEPENDENCY, String::new());
    }
    if fields.is_empty() && !a.hold {
        return Err("nothing to change: give -q, -n, -M, -W, -J, -w or -H".into());
    }
    Ok(ModifyRequest { job, fields })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ModifyRequest, String> {
        let argv = std::iter::once("bmod")
            .chain(args.iter().copied())
            .map(String::from);
        let argv = respell(
            argv,
            &<Args as clap::CommandFactory>::command(),
            &LSF_SPELLINGS,
        );
        request(&Args::try_parse_from(argv).map_err(|e| e.to_string())?)
    }

    #[test]
    fn lsfs_resets_and_values_become_fields() {
        let r = parse(&["-Wn", "-q", "short", "-n", "2", "-M", "1G", "-Jn", "7"]).unwrap();
        let fields: Vec<(u32, &str)> = r
            .fields
            .iter()
            .map(|f| (f.field, f.value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                (field::QUEUE, "short"),
                (field::CPUS, "2"),
                (field::MEM_MB, "1024"),
                (field::RUN_LIMIT, ""),
                (field::NAME, "")
            ]
        );
        assert_eq!(
            parse(&["-W", "1:30", "7[2]"]).unwrap().fields[0].value,
            "5400"
        );
        assert_eq!(
            parse(&["7"]).unwrap_err(),
            "nothing to change: give -q, -n, -M, -W, -J, -w or -H"
        );
        assert!(parse(&["-H", "7"]).unwrap().fields.is_empty());
        assert!(parse(&["-w", "done(", "7"]).is_err());
        assert!(parse(&["-Wn", "-W", "5", "7"]).is_err(), "both: conflict");
    }
}
