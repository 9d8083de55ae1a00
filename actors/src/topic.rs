//! Topic names and topic filters: validation and matching, as pure functions.
//!
//! Implements MQTT 3.1.1 section 4.7 (the rules are the same in MQTT 5.0, section 4.7):
//!
//! - A *topic name* (PUBLISH, will topic) is one or more UTF-8 characters, contains no wildcard
//!   and no U+0000, and is at most 65,535 bytes long.
//! - A *topic filter* (SUBSCRIBE, UNSUBSCRIBE) follows the same length and character rules and
//!   may contain wildcards: `+` must occupy a whole level, `#` must be alone in the last level.
//! - Levels are separated by `/`, and every `/` is significant: `"/finance"` has two levels, the
//!   first one empty.
//! - A filter whose first level is a wildcard does not match a topic starting with `$`
//!   (\[MQTT-4.7.2-1\]), so `"#"` does not see `"$SYS/..."` but `"$SYS/#"` does.
//!
//! `&str` is already valid UTF-8, so \[MQTT-4.7.3-2\]'s other half (well-formed UTF-8) is the
//! codec's job, not this module's.

/// Longest topic name or filter, in bytes \[MQTT-4.7.3-3\].
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Why a topic name or filter is invalid. Each variant names the normative statement it breaks
/// (see [`TopicError::spec_id`]); the `Display` message includes that id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Zero-length name or filter.
    #[error("topic names and filters must be at least one character long [MQTT-4.7.3-1]")]
    Empty,
    /// A topic name contains `+` or `#`.
    #[error("a topic name must not contain wildcard characters [MQTT-3.3.2-2]")]
    WildcardInName,
    /// `#` is not alone in the last level of a filter.
    #[error(
        "'#' must be the last character of a topic filter and occupy a whole level [MQTT-4.7.1-2]"
    )]
    MisplacedHash,
    /// `+` does not occupy a whole level of a filter.
    #[error("'+' must occupy an entire level of a topic filter [MQTT-4.7.1-3]")]
    MisplacedPlus,
    /// The name or filter contains U+0000.
    #[error("topic names and filters must not contain the null character U+0000 [MQTT-4.7.3-2]")]
    NullCharacter,
    /// Longer than [`MAX_TOPIC_LEN`] bytes.
    #[error("topic names and filters must not be longer than 65,535 bytes [MQTT-4.7.3-3]")]
    TooLong,
    /// More levels than `limits.max_topic_levels`: the broker's own limit (section 4.7.3 sets
    /// none but the length), refused as a name or filter "not accepted by this Server".
    #[error("more topic levels than limits.max_topic_levels allows [MQTT-4.7.3]")]
    TooManyLevels,
}

impl TopicError {
    /// The normative statement the error breaks, e.g. `"MQTT-4.7.3-1"`.
    pub fn spec_id(&self) -> &'static str {
        match self {
            TopicError::Empty => "MQTT-4.7.3-1",
            TopicError::WildcardInName => "MQTT-3.3.2-2",
            TopicError::MisplacedHash => "MQTT-4.7.1-2",
            TopicError::MisplacedPlus => "MQTT-4.7.1-3",
            TopicError::NullCharacter => "MQTT-4.7.3-2",
            TopicError::TooLong => "MQTT-4.7.3-3",
            TopicError::TooManyLevels => "MQTT-4.7.3",
        }
    }
}

/// Rules shared by names and filters, checked in this order: empty, too long, U+0000.
fn validate_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong);
    }
    if s.as_bytes().contains(&0) {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Checks that a topic name or filter has at most `max` levels (0: no limit). Free for the
/// usual short topics: a topic with more than `max` levels has at least `max` slashes.
#[inline]
pub fn check_levels(s: &str, max: usize) -> Result<(), TopicError> {
    if max == 0 || s.len() < max {
        return Ok(());
    }
    match s.bytes().filter(|&b| b == b'/').count() < max {
        true => Ok(()),
        false => Err(TopicError::TooManyLevels),
    }
}

/// Checks a topic name, as used by PUBLISH and by the will topic of CONNECT.
///
/// Names starting with `$` are valid here; whether a client may publish to them is broker policy.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    validate_common(name)?;
    if name.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter, as used by SUBSCRIBE and UNSUBSCRIBE.
///
/// When a filter breaks several rules, the first level (from the left) that breaks one decides;
/// within a level, a misplaced `#` is reported before a misplaced `+`.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    validate_common(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MisplacedHash);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedPlus);
        }
    }
    Ok(())
}

/// Does `filter` match `topic`?
///
/// Both are expected to be valid (see [`validate_topic_filter`], [`validate_topic_name`]); for
/// invalid input the answer is unspecified but the function does not panic.
///
/// - `+` matches exactly one level, which may be empty (`"+/+"` matches `"/finance"`).
/// - `#` matches the parent level and any number of child levels (`"sport/tennis/#"` matches
///   `"sport/tennis"`, and `"#"` matches every topic).
/// - \[MQTT-4.7.2-1\]: a filter starting with a wildcard does not match a topic starting with
///   `$`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && starts_with_wildcard(filter) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            // '#' also matches when the topic has no more levels: "a/#" matches "a".
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Where the first `/` of a topic is. A plain byte loop: topic levels are a few bytes long,
/// where `str::find`'s memchr costs more to set up than it saves; routing a message splits its
/// topic level by level (memchr was ~3 % of a publish's instructions in fan-in).
#[inline]
pub fn find_slash(s: &str) -> Option<usize> {
    s.bytes().position(|b| b == b'/')
}

/// First level of a name or filter: `"a/b"` -> `"a"`, `"/x"` -> `""`, `"#"` -> `"#"`.
pub fn first_level(s: &str) -> &str {
    match find_slash(s) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// True if the filter's first level is a wildcard (`+` or `#`).
pub fn starts_with_wildcard(filter: &str) -> bool {
    matches!(first_level(filter), "+" | "#")
}

/// What starts a shared subscription's filter: `$share/{ShareName}/{filter}` [MQTT-4.8.2].
pub const SHARE_PREFIX: &str = "$share/";

/// A shared subscription's filter, split: the group (Share Name) and the topic filter its
/// members share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareName<'a> {
    pub group: &'a str,
    pub filter: &'a str,
}

/// Why a `$share/...` filter is not a valid shared subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The Share Name is empty or contains `+` or `#` (`/` ends it).
    #[error(
        "a Share Name must be at least one character and contain no '+' or '#' [MQTT-4.8.2-1]"
    )]
    BadGroup,
    /// Nothing follows the Share Name.
    #[error("a Share Name must be followed by '/' and a topic filter [MQTT-4.8.2-2]")]
    MissingFilter,
    /// What follows the Share Name is not a valid topic filter.
    #[error("{0}")]
    Filter(TopicError),
}

/// `None` for a filter that is not a shared subscription; otherwise its group and filter, or
/// why they are invalid.
pub fn parse_share(filter: &str) -> Option<Result<ShareName<'_>, ShareError>> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    Some(match rest.split_once('/') {
        None if rest.is_empty() || rest.contains(['+', '#']) => Err(ShareError::BadGroup),
        None => Err(ShareError::MissingFilter),
        Some((group, _)) if group.is_empty() || group.contains(['+', '#']) => {
            Err(ShareError::BadGroup)
        }
        Some((_, "")) => Err(ShareError::MissingFilter),
        Some((group, filter)) => validate_topic_filter(filter)
            .map(|()| ShareName { group, filter })
            .map_err(ShareError::Filter),
    })
}

/// The topic filter a subscription matches with: the part after the Share Name for a shared
/// subscription, else the filter itself.
pub fn matching_filter(filter: &str) -> &str {
    match parse_share(filter) {
        Some(Ok(share)) => share.filter,
        _ => filter,
    }
}

/// True for the broker's own statistics topics: `"$SYS"` and anything under `"$SYS/"`.
pub fn is_sys_topic(name: &str) -> bool {
    name == "$SYS" || name.starts_with("$SYS/")
}

#[cfg(test)]
#[path = "topic_tests.rs"]
mod tests;
