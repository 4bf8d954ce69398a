//! The account's Lambda concurrency quota against the template's reservations: AWS refuses a
//! `ReservedConcurrentExecutions` that would leave fewer than 10 unreserved executions in the
//! account, and new accounts often have a concurrency quota of 10 — so there, any reservation
//! fails the stack's creation.
//!
//! Sources: <https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html>
//! ("Lambda requires at least 100 units... unreserved" for the usual quota of 1,000; the
//! PutFunctionConcurrency error "Specified ReservedConcurrentExecutions for function decreases
//! account's UnreservedConcurrentExecution below its minimum value of [10]" seen on accounts with
//! a quota of 10); DESIGN.md "The system over time". The minimum of 10 for small quotas is the
//! error message's, not a documented constant: a model guess.

use super::wiring::Wiring;

/// A Lambda concurrency quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcurrencyQuota {
    /// The account's concurrent executions quota.
    pub account: u32,
    /// What must stay unreserved.
    pub min_unreserved: u32,
}

impl ConcurrencyQuota {
    /// A new account's quota: 10, of which 10 must stay unreserved.
    pub fn new_account() -> ConcurrencyQuota {
        ConcurrencyQuota {
            account: 10,
            min_unreserved: 10,
        }
    }

    /// Creates the functions in template order as CloudFormation would: the first reservation
    /// that leaves too little unreserved fails the stack. Returns the reservations made.
    pub fn create_stack(&self, wiring: &Wiring) -> Result<Vec<(String, u32)>, String> {
        let mut reserved = 0u32;
        let mut made = Vec::new();
        for function in wiring.functions.iter().filter(|f| f.exists) {
            let Some(units) = function.settings.reserved_concurrency else {
                continue;
            };
            let left = self.account.saturating_sub(reserved.saturating_add(units));
            if left < self.min_unreserved || reserved.saturating_add(units) > self.account {
                return Err(format!(
                    "{} reserves {units}: Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{}] (quota {}, {} reserved before it) — the stack cannot be created",
                    function.settings.logical_id, self.min_unreserved, self.account, reserved
                ));
            }
            reserved += units;
            made.push((function.settings.logical_id.clone(), units));
        }
        Ok(made)
    }
}
