//! Business calendars (`sopengine.calendars`): the compiler expands each declared calendar into
//! sorted, disjoint UTC working intervals; a deadline counted in one adds working seconds by two
//! binary searches over them, the same float operations in the same order as the reference, so no
//! time-zone rules are needed here.

use serde::Deserialize;

use crate::engine::CExpr;
use crate::value::Str;

/// The built-in calendar of every hour.
pub const AROUND_THE_CLOCK: &str = "24x7";

/// A calendar as the plan gives it.
#[derive(Deserialize)]
pub struct CalendarPlan {
    pub name: String,
    pub zone: String,
    pub years: (i64, i64),
    pub first: f64,
    pub last: f64,
    pub starts: Vec<f64>,
    pub ends: Vec<f64>,
}

pub struct Calendar {
    pub name: Str,
    /// Its IANA time zone, only carried to reports with the deadlines it counted.
    pub zone: Str,
    years: (i64, i64),
    first: f64,
    last: f64,
    starts: Vec<f64>,
    ends: Vec<f64>,
    /// Working seconds before each interval; the last entry: in all of them.
    worked: Vec<f64>,
}

/// A rule's choice of calendar (none: every hour).
pub enum CalendarRef {
    Named(usize),
    Expr(Box<CExpr>),
}

impl Calendar {
    pub fn build(plan: CalendarPlan) -> Result<Calendar, String> {
        if plan.starts.len() != plan.ends.len() {
            return Err(format!(
                "calendar {}: starts and ends differ in length",
                plan.name
            ));
        }
        let mut worked = Vec::with_capacity(plan.starts.len() + 1);
        worked.push(0.0);
        for (s, e) in plan.starts.iter().zip(&plan.ends) {
            let before = *worked.last().unwrap_or(&0.0);
            worked.push(before + (e - s));
        }
        Ok(Calendar {
            name: Str::from(plan.name.as_str()),
            zone: Str::from(plan.zone.as_str()),
            years: plan.years,
            first: plan.first,
            last: plan.last,
            starts: plan.starts,
            ends: plan.ends,
            worked,
        })
    }

    /// The instant `seconds` of working time after `t`; None outside the calendar's years
    /// (`Calendar.add`).
    pub fn add(&self, t: f64, seconds: f64) -> Option<f64> {
        if seconds == 0.0 {
            return Some(t);
        }
        if !(self.first <= t && t < self.last) {
            return None;
        }
        let i = self.ends.partition_point(|&end| end <= t); // the first interval that ends after t
        if i == self.ends.len() {
            return None;
        }
        let offset = if t > self.starts[i] {
            self.worked[i] + (t - self.starts[i])
        } else {
            self.worked[i]
        };
        let target = offset + seconds;
        let j = self.worked[1..].partition_point(|&w| w < target); // where the count reaches target
        if j == self.ends.len() {
            return None;
        }
        Some(self.starts[j] + (target - self.worked[j]))
    }

    /// The working seconds of the calendar before `t`; None outside its years
    /// (`Calendar.worked_at`).
    pub fn worked_at(&self, t: f64) -> Option<f64> {
        if !(self.first <= t && t <= self.last) {
            return None;
        }
        let i = self.ends.partition_point(|&end| end <= t);
        if i == self.ends.len() {
            return Some(self.worked[i]);
        }
        Some(if t > self.starts[i] {
            self.worked[i] + (t - self.starts[i])
        } else {
            self.worked[i]
        })
    }

    /// Why `add` from `t` gave None (`Calendar.outside`).
    pub fn outside(&self, t: f64) -> String {
        let when = crate::pyfmt::format_time(crate::value::Num::Float(t)).unwrap_or_default();
        format!(
            "calendar '{}' covers the years {}-{}: the deadline from {when} falls outside them",
            self.name, self.years.0, self.years.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> Calendar {
        // two working days of 8 hours (09:00-17:00 UTC), a closed day between them
        let day = 86_400.0;
        Calendar::build(CalendarPlan {
            name: "test".into(),
            zone: "UTC".into(),
            years: (1970, 1970),
            first: 0.0,
            last: 365.0 * day,
            starts: vec![9.0 * 3600.0, 2.0 * day + 9.0 * 3600.0],
            ends: vec![17.0 * 3600.0, 2.0 * day + 17.0 * 3600.0],
        })
        .unwrap()
    }

    #[test]
    fn a_deadline_skips_closed_time_and_ends_an_interval_exactly() {
        let c = week();
        let h = 3600.0;
        assert_eq!(c.add(15.0 * h, 2.0 * h), Some(17.0 * h));
        assert_eq!(c.add(16.0 * h, 2.0 * h), Some(48.0 * h + 10.0 * h));
        assert_eq!(c.add(20.0 * h, 1.0 * h), Some(48.0 * h + 10.0 * h)); // from after hours
        assert_eq!(c.add(0.0, 1.0 * h), Some(10.0 * h)); // from before the first opening
        assert_eq!(c.add(20.0 * h, 0.0), Some(20.0 * h));
    }

    #[test]
    fn a_deadline_past_the_last_interval_or_from_outside_the_years_is_none() {
        let c = week();
        let h = 3600.0;
        assert_eq!(c.add(16.0 * h, 10.0 * h), None);
        assert_eq!(c.add(-1.0, h), None);
        assert_eq!(c.add(400.0 * 86_400.0, h), None);
        assert!(c.outside(-1.0).contains("covers the years 1970-1970"));
    }
}
