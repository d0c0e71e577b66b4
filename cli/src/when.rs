//! Times on the command line: RFC 3339, milliseconds since the Unix epoch, or an op id as the
//! engine prints it; and times printed as RFC 3339.

pub use auroradb::log::MAX_MILLIS;
use auroradb::log::millis_to_ntp;
use auroradb::{OpId, PeerId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in the log named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A wall-clock time, to the millisecond.
    Millis(u64),
    /// One op of the file.
    Op(OpId),
}

impl When {
    /// Parses `text`: digits are milliseconds since the epoch; text with `@` is an op id as
    /// printed (`2026-11-29T10:00:00.000000000Z+0@a1a1a1a1`), looked up among `ids`; anything else
    /// is RFC 3339 (`2026-11-29T10:00:00Z`, offsets and fractions allowed).
    pub fn parse(text: &str, ids: &[OpId]) -> Result<When, String> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u64>() {
                Ok(ms) => When::millis(ms, text),
                Err(_) => Err(format!("time {text:?}: too large")),
            };
        }
        if text.contains('@') {
            return ids
                .iter()
                .find(|id| id.to_string() == text)
                .map(|id| When::Op(*id))
                .ok_or_else(|| format!("no op in the file has the id {text:?}"));
        }
        let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
            format!("time {text:?}: {e} (expected RFC 3339 such as 2026-11-29T10:00:00Z, milliseconds, or an op id)")
        })?;
        let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
        match u64::try_from(ms) {
            Ok(ms) => When::millis(ms, text),
            Err(_) => Err(format!("time {text:?} is before 1970")),
        }
    }

    /// `ms`, up to [`MAX_MILLIS`], the last millisecond an op id can hold (NTP64 counts 2^32
    /// seconds from 1970, to 2106-02-07T06:28:15.999Z); later times are refused.
    fn millis(ms: u64, text: &str) -> Result<When, String> {
        if ms > MAX_MILLIS {
            return Err(format!("time {text:?} is after {}, the latest an op id can hold", rfc3339(MAX_MILLIS)));
        }
        Ok(When::Millis(ms))
    }

    /// The largest id at or before this point: every op up to it is "as of" it.
    pub fn upper(&self) -> OpId {
        match self {
            When::Millis(ms) => auroradb::upto_millis(*ms),
            When::Op(id) => *id,
        }
    }

    /// The smallest id at or after this point.
    pub fn lower(&self) -> OpId {
        match self {
            When::Millis(ms) => OpId { time: millis_to_ntp(*ms), peer: PeerId([0; 16]) },
            When::Op(id) => *id,
        }
    }
}

/// Milliseconds since the epoch as RFC 3339 in UTC with milliseconds (`2026-11-29T10:00:00.000Z`).
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => format!("{ms}ms"),
    }
}

/// An op id's time as RFC 3339.
pub fn id_time(id: &OpId) -> String {
    rfc3339(id.millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: PeerId = PeerId([0xa1; 16]);

    #[test]
    fn the_three_forms_parse() {
        let id = OpId::from_millis(1_764_410_400_000, PEER);
        let ids = [id];
        assert_eq!(When::parse("1764410400000", &ids), Ok(When::Millis(1_764_410_400_000)));
        assert_eq!(When::parse("2025-11-29T10:00:00Z", &ids), Ok(When::Millis(1_764_410_400_000)));
        assert_eq!(When::parse("2025-11-29T11:00:00.5+01:00", &ids), Ok(When::Millis(1_764_410_400_500)));
        assert_eq!(When::parse(&id.to_string(), &ids), Ok(When::Op(id)));
        assert!(When::parse("2025-11-29T10:00:00.000000000Z+0@ffffffff", &ids).is_err());
        assert!(When::parse("yesterday", &ids).unwrap_err().contains("RFC 3339"));
        assert!(When::parse("1969-12-31T23:59:59Z", &ids).unwrap_err().contains("1970"));
        for late in ["18446744073709551615", "99999999999999", "9999-12-31T23:59:59Z", "2106-02-07T06:28:16Z"] {
            assert!(When::parse(late, &ids).unwrap_err().contains("2106-02-07T06:28:15.999Z"), "{late}");
        }
        // The last second an id can hold is whole: an op at .499 of it is reached by a time.
        assert_eq!(When::parse("2106-02-07T06:28:15.999Z", &ids), Ok(When::Millis(MAX_MILLIS)));
        assert_eq!(When::parse("4294967295600", &ids), Ok(When::Millis(4_294_967_295_600)));
        let last = OpId::from_millis(4_294_967_295_499, PEER);
        assert!(When::Millis(4_294_967_295_600).upper() > last && When::Millis(4_294_967_295_400).upper() < last);
        assert!(When::Millis(MAX_MILLIS).upper() > When::Millis(MAX_MILLIS).lower());
        assert!(When::parse("99999999999999999999999", &ids).unwrap_err().contains("too large"));
    }

    #[test]
    fn bounds_take_in_the_whole_millisecond() {
        let w = When::Millis(1_000);
        let inside = OpId { time: millis_to_ntp(1_000) + 3, peer: PEER };
        assert!(w.lower() <= inside && inside <= w.upper());
        assert!(OpId::from_millis(1_001, PEER) > w.upper());
        assert_eq!(rfc3339(1_764_410_400_123), "2025-11-29T10:00:00.123Z");
    }
}
