//! How an issuer gets a resource owner's consent: automatically (the rig as it always was) or
//! from a person on a consent page, acting as one of the configured [`User`]s.
//!
//! In page mode `/authorize` keeps the checked request as a [`Pending`] authorization under a
//! single-use ticket, and the page's form posts the decision with the ticket and a CSRF token
//! bound to it (`endpoints::decision`). Tickets live [`TICKET_TTL_MS`] of the rig clock, and an
//! issuer keeps at most [`MAX_PENDING`]: opening one more drops the oldest, so that a flood of
//! authorization requests costs bounded memory and the newest page always works.
//!
//! The mode is a run-time switch (`POST /control/consent-mode`), not a saved setting: a reset
//! and a restart go back to the configured one. The tickets are never saved either.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sim_http::form::is_scope_token;
use sim_http::secret::{constant_time_eq, random_token};

use crate::store::TokenKey;

/// Pending authorizations an issuer keeps at most; opening one more drops the oldest.
pub const MAX_PENDING: usize = 1000;

/// How long a consent page can be answered: ten minutes of the rig clock, as a code lives.
pub const TICKET_TTL_MS: u64 = 10 * 60 * 1000;

/// Users a configuration may list at most: each is a radio button of the page.
pub const MAX_USERS: usize = 100;

/// How `/authorize` gets consent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    /// Approved at once for the first user, unless a fault rule answers (`deny-consent`).
    #[default]
    Auto,
    /// A consent page: a person approves or denies, acting as a user they choose.
    Page,
}

impl ConsentMode {
    /// Parses `auto` or `page`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "page" => Ok(Self::Page),
            other => Err(format!("consent mode '{other}' must be auto or page")),
        }
    }
}

/// A resource owner a grant may be for: the subject (`sub`) of its tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The subject of the tokens granted as this user.
    pub sub: String,
    /// What the consent page calls them; the subject when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The scopes they may be granted (`offline_access` included only if listed); `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl User {
    /// A user of that subject, who may be granted every scope.
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            name: None,
            scopes: None,
        }
    }

    /// `demo-user`, the default one.
    pub fn demo() -> Self {
        Self::new("demo-user")
    }

    /// The name the page shows.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.sub)
    }

    /// Whether they may be granted `scope`.
    pub fn may_have(&self, scope: &str) -> bool {
        self.scopes
            .as_ref()
            .is_none_or(|scopes| scopes.iter().any(|own| own == scope))
    }

    /// Checks the subject, the name and the scopes.
    fn validate(&self) -> Result<(), String> {
        let sub = &self.sub;
        if sub.is_empty() || sub.len() > 255 || sub.chars().any(char::is_control) {
            return Err(format!(
                "user sub '{sub}' must be 1 to 255 characters, none a control character"
            ));
        }
        if let Some(name) = &self.name
            && (name.is_empty() || name.len() > 255 || name.chars().any(char::is_control))
        {
            return Err(format!(
                "user '{sub}': name must be 1 to 255 characters, none a control character"
            ));
        }
        if let Some(bad) = self
            .scopes
            .iter()
            .flatten()
            .find(|scope| !is_scope_token(scope))
        {
            return Err(format!("user '{sub}': '{bad}' is not a valid scope token"));
        }
        Ok(())
    }
}

/// Checks a list of users: one at least, [`MAX_USERS`] at most, each valid, no subject twice.
pub fn check_users(users: &[User]) -> Result<(), String> {
    if users.is_empty() || users.len() > MAX_USERS {
        return Err(format!("users must list 1 to {MAX_USERS} users"));
    }
    for (index, user) in users.iter().enumerate() {
        user.validate()?;
        if users[..index].iter().any(|other| other.sub == user.sub) {
            return Err(format!("user sub '{}' is listed twice", user.sub));
        }
    }
    Ok(())
}

/// The consent mode in force, as `GET /control/state` shows it (under `consent`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeState {
    /// `auto` or `page`.
    pub mode: ConsentMode,
    /// In page mode, how many more authorizations show the page before it is `auto` again;
    /// `None`: until changed.
    pub next: Option<u32>,
}

/// A checked authorization request waiting for a person's decision.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The client asking.
    pub client_id: String,
    /// The redirect URI the answer goes to.
    pub redirect_uri: String,
    /// Whether the request named it (then the code exchange must repeat it).
    pub redirect_uri_sent: bool,
    /// The client's `state`, to send back.
    pub state: Option<String>,
    /// The `iss` the answer carries, as the profile said when the request came.
    pub iss: Option<String>,
    /// The PKCE S256 challenge the code is bound to.
    pub code_challenge: String,
    /// The scopes asked for (all known ones when none was), in order, without duplicates.
    pub scopes: Vec<String>,
    /// The resources (RFC 8707) asked for.
    pub resources: Vec<String>,
}

/// A pending authorization under its ticket.
#[derive(Debug)]
struct Ticket {
    pending: Pending,
    /// The CSRF token the decision must carry.
    csrf: String,
    /// Rig-clock milliseconds after which the page can no longer be answered.
    expires_at: u64,
}

/// A ticket just opened: what the page's form carries.
pub struct Opened {
    /// The ticket: which pending authorization the decision is for.
    pub ticket: String,
    /// The CSRF token bound to it.
    pub csrf: String,
}

/// Why a decision was refused before it was looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum TicketRefusal {
    /// No pending authorization has that ticket: made up, answered already, or dropped.
    Unknown,
    /// It was answered too late.
    Expired,
    /// The CSRF token is not the ticket's.
    WrongCsrf,
}

impl TicketRefusal {
    /// What the refusal page says.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Unknown => {
                "no pending authorization has this ticket: it was made up, answered already, or \
                 dropped to make room for newer ones; start the authorization again"
            }
            Self::Expired => {
                "this consent page expired (it can be answered for 10 minutes); start the \
                 authorization again"
            }
            Self::WrongCsrf => "the CSRF token does not belong to this consent ticket",
        }
    }
}

/// An issuer's consent mode and pending authorizations.
#[derive(Debug)]
pub struct Consents {
    configured: ConsentMode,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    mode: ModeState,
    pending: HashMap<TokenKey, Ticket>,
    /// Tickets in the order they were opened, for dropping the oldest.
    order: VecDeque<TokenKey>,
}

impl Consents {
    /// In the configured mode, nothing pending.
    pub fn new(configured: ConsentMode) -> Self {
        Self {
            configured,
            inner: Mutex::new(Inner {
                mode: ModeState {
                    mode: configured,
                    next: None,
                },
                pending: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere mid-update of plain data.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The mode in force.
    pub fn mode(&self) -> ModeState {
        self.lock().mode
    }

    /// Sets the mode: page mode for the next `next` authorizations only, when given (`auto`
    /// takes no count, and 0 is refused: a page for no authorization is a mistake).
    pub fn set_mode(&self, mode: ConsentMode, next: Option<u32>) -> Result<(), String> {
        match (mode, next) {
            (ConsentMode::Auto, Some(_)) => {
                return Err("next applies to page mode only".into());
            }
            (_, Some(0)) => return Err("next must be at least 1".into()),
            _ => {}
        }
        self.lock().mode = ModeState { mode, next };
        Ok(())
    }

    /// Pending authorizations, expired ones not dropped yet included.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Whether this authorization shows the page, counting it against `next`.
    pub fn shows_page(&self) -> bool {
        let mut inner = self.lock();
        let ModeState { mode, next } = inner.mode;
        if mode == ConsentMode::Auto {
            return false;
        }
        if let Some(left) = next {
            inner.mode = match left {
                0 | 1 => ModeState::default(),
                more => ModeState {
                    mode,
                    next: Some(more - 1),
                },
            };
        }
        true
    }

    /// Keeps `pending` under a new ticket until `now + TICKET_TTL_MS`, dropping the expired
    /// ones, and the oldest when [`MAX_PENDING`] are kept.
    pub fn open(&self, pending: Pending, now: u64) -> Opened {
        let ticket = random_token();
        let csrf = random_token();
        let kept = Ticket {
            pending,
            csrf: csrf.clone(),
            expires_at: now.saturating_add(TICKET_TTL_MS),
        };
        let key = TokenKey::of(&ticket);
        let mut inner = self.lock();
        let Inner {
            pending: map,
            order,
            ..
        } = &mut *inner;
        map.retain(|_, kept| kept.expires_at > now);
        order.retain(|key| map.contains_key(key));
        while map.len() >= MAX_PENDING {
            match order.pop_front() {
                Some(oldest) => map.remove(&oldest),
                None => break,
            };
        }
        map.insert(key, kept);
        order.push_back(key);
        Opened { ticket, csrf }
    }

    /// The pending authorization of `ticket`, if `csrf` is its token and it has not expired;
    /// `decide` then says whether the decision stands (`Ok`: the ticket is used up) or is
    /// refused (`Err`: the ticket stays, so that the person can correct the form).
    pub fn decide<T, E>(
        &self,
        ticket: &str,
        csrf: &str,
        now: u64,
        decide: impl FnOnce(&Pending) -> Result<T, E>,
    ) -> Result<Result<T, E>, TicketRefusal> {
        let key = TokenKey::of(ticket);
        let mut inner = self.lock();
        let kept = inner.pending.get(&key).ok_or(TicketRefusal::Unknown)?;
        if !constant_time_eq(&kept.csrf, csrf) {
            return Err(TicketRefusal::WrongCsrf);
        }
        if kept.expires_at <= now {
            inner.pending.remove(&key);
            inner.order.retain(|kept| *kept != key);
            return Err(TicketRefusal::Expired);
        }
        let decided = decide(&kept.pending);
        if decided.is_ok() {
            inner.pending.remove(&key);
            inner.order.retain(|kept| *kept != key);
        }
        Ok(decided)
    }

    /// Back to the configured mode, nothing pending.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.mode = ModeState {
            mode: self.configured,
            next: None,
        };
        inner.pending.clear();
        inner.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(client: &str) -> Pending {
        Pending {
            client_id: client.into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            redirect_uri_sent: true,
            state: None,
            iss: None,
            code_challenge: "c".into(),
            scopes: vec!["a".into()],
            resources: Vec::new(),
        }
    }

    fn approve(_: &Pending) -> Result<(), ()> {
        Ok(())
    }

    #[test]
    fn next_counts_down_to_auto() {
        let consents = Consents::new(ConsentMode::Auto);
        assert!(!consents.shows_page());
        consents.set_mode(ConsentMode::Page, Some(2)).unwrap();
        assert!(consents.shows_page());
        assert_eq!(consents.mode().next, Some(1));
        assert!(consents.shows_page());
        assert_eq!(consents.mode(), ModeState::default());
        assert!(!consents.shows_page());
        assert!(consents.set_mode(ConsentMode::Page, Some(0)).is_err());
        assert!(consents.set_mode(ConsentMode::Auto, Some(1)).is_err());
    }

    #[test]
    fn a_ticket_is_single_use_bound_to_its_csrf_token_and_expires() {
        let consents = Consents::new(ConsentMode::Page);
        let first = consents.open(pending("a"), 0);
        let second = consents.open(pending("b"), 0);
        let wrong = consents.decide(&first.ticket, &second.csrf, 1, approve);
        assert_eq!(wrong.unwrap_err(), TicketRefusal::WrongCsrf);
        let refused = consents.decide(&first.ticket, &first.csrf, 1, |_| Err::<(), _>(()));
        assert_eq!(refused, Ok(Err(())), "a refused decision keeps the ticket");
        assert_eq!(
            consents.decide(&first.ticket, &first.csrf, 1, approve),
            Ok(Ok(()))
        );
        let again = consents.decide(&first.ticket, &first.csrf, 1, approve);
        assert_eq!(again.unwrap_err(), TicketRefusal::Unknown);
        let late = consents.decide(&second.ticket, &second.csrf, TICKET_TTL_MS, approve);
        assert_eq!(late.unwrap_err(), TicketRefusal::Expired);
        assert_eq!(consents.pending(), 0);
    }

    #[test]
    fn the_oldest_ticket_goes_when_the_map_is_full() {
        let consents = Consents::new(ConsentMode::Page);
        let oldest = consents.open(pending("first"), 0);
        let mut newest = None;
        for _ in 0..MAX_PENDING {
            newest = Some(consents.open(pending("more"), 0));
        }
        assert_eq!(consents.pending(), MAX_PENDING);
        let dropped = consents.decide(&oldest.ticket, &oldest.csrf, 1, approve);
        assert_eq!(dropped.unwrap_err(), TicketRefusal::Unknown);
        let newest = newest.unwrap();
        assert_eq!(
            consents.decide(&newest.ticket, &newest.csrf, 1, approve),
            Ok(Ok(()))
        );
    }

    #[test]
    fn users_are_checked() {
        assert!(check_users(&[User::demo()]).is_ok());
        assert!(check_users(&[]).is_err());
        assert!(check_users(&[User::demo(), User::demo()]).is_err());
        assert!(check_users(&[User::new("")]).is_err());
        let bad_scope = User {
            scopes: Some(vec!["a b".into()]),
            ..User::demo()
        };
        assert!(check_users(&[bad_scope]).is_err());
        let limited = User {
            scopes: Some(vec!["a".into()]),
            ..User::demo()
        };
        assert!(limited.may_have("a") && !limited.may_have("b"));
        assert!(User::demo().may_have("anything"));
    }
}
