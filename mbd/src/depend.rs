//! `--dependency` expressions: LavaLite's grammar, parsed once at submit
//! and evaluated against job outcomes at every scheduling pass.
//!
//! ```text
//! expr   := term ('||' term)*
//! term   := factor ('&&' factor)*
//! factor := '!' factor | '(' expr ')' | ('done'|'exit'|'ended') '(' integer ')'
//! ```
//!
//! Unlike the C evaluator (a fixed 16-entry stack, unchecked), nesting is
//! bounded by [`MAX_DEPTH`] and reported as a syntax error.

use std::fmt;

/// Deepest nesting of `!` and parentheses accepted.
pub const MAX_DEPTH: usize = 64;

/// What a condition asks of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Done,
    Exit,
    Ended,
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dep {
    On(Condition, u32),
    Not(Box<Dep>),
    And(Vec<Dep>),
    Or(Vec<Dep>),
}

/// How far a target got, as the evaluator needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Pending or running (for an array: any element still is).
    Unfinished,
    /// Finished, with whether it succeeded (for an array: every element).
    Done,
    Exit,
    /// Some elements of an array ended DONE and some EXIT.
    Mixed,
    /// No longer known to mbd.
    Gone,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError;

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid dependency expression")
    }
}

impl std::error::Error for SyntaxError {}

impl Dep {
    pub fn parse(text: &str) -> Result<Dep, SyntaxError> {
        let mut p = Parser {
            text: text.as_bytes(),
            at: 0,
            depth: 0,
        };
        let dep = p.expr()?;
        p.skip_blanks();
        if p.at != p.text.len() {
            return Err(SyntaxError);
        }
        Ok(dep)
    }

    /// Every job id the expression names.
    pub fn ids(&self) -> Vec<u32> {
        let mut ids = Vec::new();
        self.collect_ids(&mut ids);
        ids
    }

    fn collect_ids(&self, ids: &mut Vec<u32>) {
        match self {
            Dep::On(_, id) => ids.push(*id),
            Dep::Not(inner) => inner.collect_ids(ids),
            Dep::And(all) | Dep::Or(all) => all.iter().for_each(|d| d.collect_ids(ids)),
        }
    }

    /// Whether the expression holds, given each target's outcome.
    pub fn holds(&self, outcome: &impl Fn(u32) -> Outcome) -> bool {
        match self {
            Dep::On(cond, id) => matches!(
                (cond, outcome(*id)),
                (Condition::Done, Outcome::Done)
                    | (Condition::Exit, Outcome::Exit)
                    | (
                        Condition::Ended,
                        Outcome::Done | Outcome::Exit | Outcome::Mixed
                    )
            ),
            Dep::Not(inner) => !inner.holds(outcome),
            Dep::And(all) => all.iter().all(|d| d.holds(outcome)),
            Dep::Or(any) => any.iter().any(|d| d.holds(outcome)),
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_blanks(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    /// Consumes `token` (after blanks) if it is next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_blanks();
        let hit = self.text[self.at..].starts_with(token.as_bytes());
        if hit {
            self.at += token.len();
        }
        hit
    }

    fn expr(&mut self) -> Result<Dep, SyntaxError> {
        let mut terms = vec![self.term()?];
        while self.eat("||") {
            terms.push(self.term()?);
        }
        Ok(one_or(terms, Dep::Or))
    }

    fn term(&mut self) -> Result<Dep, SyntaxError> {
        let mut factors = vec![self.factor()?];
        while self.eat("&&") {
            factors.push(self.factor()?);
        }
        Ok(one_or(factors, Dep::And))
    }

    fn factor(&mut self) -> Result<Dep, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError);
        }
        let dep = if self.eat("!") {
            Dep::Not(Box::new(self.factor()?))
        } else if self.eat("(") {
            let inner = self.expr()?;
            self.expect(")")?;
            inner
        } else {
            let cond = [
                ("done", Condition::Done),
                ("exit", Condition::Exit),
                ("ended", Condition::Ended),
            ]
            .into_iter()
            .find(|(word, _)| self.eat(word))
            .map(|(_, c)| c)
            .ok_or(SyntaxError)?;
            self.expect("(")?;
            let id = self.integer()?;
            self.expect(")")?;
            Dep::On(cond, id)
        };
        self.depth -= 1;
        Ok(dep)
    }

    fn expect(&mut self, token: &str) -> Result<(), SyntaxError> {
        self.eat(token).then_some(()).ok_or(SyntaxError)
    }

    fn integer(&mut self) -> Result<u32, SyntaxError> {
        self.skip_blanks();
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        std::str::from_utf8(&self.text[start..self.at])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .filter(|id| *id > 0)
            .ok_or(SyntaxError)
    }
}

fn one_or(mut parts: Vec<Dep>, many: fn(Vec<Dep>) -> Dep) -> Dep {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        many(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_parses_with_precedence_and_blanks() {
        let dep = Dep::parse(" done(1)&&exit( 2 ) || !ended(3)").unwrap();
        assert_eq!(
            dep,
            Dep::Or(vec![
                Dep::And(vec![
                    Dep::On(Condition::Done, 1),
                    Dep::On(Condition::Exit, 2)
                ]),
                Dep::Not(Box::new(Dep::On(Condition::Ended, 3))),
            ])
        );
        assert_eq!(
            Dep::parse("(done(1) || done(2)) && done(3)").unwrap().ids(),
            [1, 2, 3]
        );
    }

    #[test]
    fn malformed_expressions_are_refused() {
        for bad in [
            "",
            "done(1",
            "done()",
            "DONE(1)",
            "done(1[2])",
            "done(x)",
            "done(1) &",
            "done(1) done(2)",
            "started(1)",
            "done(0)",
            "done(99999999999)",
            "()",
        ] {
            assert_eq!(Dep::parse(bad), Err(SyntaxError), "{bad:?}");
        }
        let deep = format!("{}done(1){}", "(".repeat(100), ")".repeat(100));
        assert_eq!(Dep::parse(&deep), Err(SyntaxError));
        let fine = format!("{}done(1){}", "(".repeat(10), ")".repeat(10));
        assert!(Dep::parse(&fine).is_ok());
    }

    #[test]
    fn conditions_follow_the_targets_outcomes() {
        let outcome = |id| match id {
            1 => Outcome::Done,
            2 => Outcome::Exit,
            3 => Outcome::Unfinished,
            4 => Outcome::Mixed,
            _ => Outcome::Gone,
        };
        let holds = |text: &str| Dep::parse(text).unwrap().holds(&outcome);
        assert!(holds("done(1)") && !holds("exit(1)") && holds("ended(1)"));
        assert!(holds("exit(2)") && !holds("done(2)") && holds("ended(2)"));
        assert!(!holds("ended(3)") && !holds("done(3)") && holds("!done(3)"));
        assert!(holds("ended(4)") && !holds("done(4)") && !holds("exit(4)"));
        assert!(!holds("ended(9)"), "a gone target never satisfies");
        assert!(holds("done(1) && exit(2)") && !holds("done(1) && done(3)"));
        assert!(holds("done(3) || done(1)"));
    }
}
