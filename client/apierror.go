package client

import (
	"errors"
	"fmt"
	"time"
)

// APIError is an answer of the index other than 2xx: its status, and for
// an RFC 9457 problem (application/problem+json) its stable code, detail
// and field. errors.Is matches it against ErrAPI and, by its code, against
// the sentinels below; branch on those or on Code, never on Detail, whose
// wording may change.
//
// The index never quotes a BSN, a birth date or an element in a problem;
// should an answer do so anyway (a proxy that echoes the request), the
// Client drops its detail and field.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// Code is the problem's stable code (httpapi/openapi.yaml lists them);
	// empty if the answer was not a problem.
	Code string
	// Detail is the problem's explanation for a person.
	Detail string
	// Field names the request field the problem is about, if any.
	Field string
	// Leader names, with not_leader, the node of a replicated index that
	// leads now, if the node asked knows it: send the request there.
	Leader string
	// RetryAfter is the answer's Retry-After (rate_limited, unavailable),
	// or zero.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("client: the index answered %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes errors.Is(err, ErrAPI) true for every APIError, and
// errors.Is(err, ErrX) for the sentinels of its code.
func (e *APIError) Is(target error) bool {
	if target == ErrAPI {
		return true
	}
	for _, c := range apiCodes {
		if c.err == target {
			for _, code := range c.codes {
				if code == e.Code {
					return true
				}
			}
			return c.statusIs != nil && c.statusIs(e.Status) && e.Code == ""
		}
	}
	return false
}

// Sentinels an *APIError matches by its code (errors.Is).
var (
	// ErrAPI matches every answer of the index other than 2xx.
	ErrAPI = errors.New("client: the index refused the request")
	// ErrNotInvolved: not_involved, the institution has no live
	// registration for the youth (or, for subject access, the youth is
	// not registered in the caller's municipality: the same answer).
	ErrNotInvolved = errors.New("client: not involved with this youth")
	// ErrNotFound: not_found, no such registration of the institution.
	ErrNotFound = errors.New("client: no such registration")
	// ErrForbidden: forbidden, kind_not_allowed, unknown_institution or
	// not_coordinator, the institution may not do this.
	ErrForbidden = errors.New("client: forbidden")
	// ErrUnauthenticated: unauthenticated, invalid_token,
	// unknown_certificate or credentials_conflict; also a 401 without a
	// problem.
	ErrUnauthenticated = errors.New("client: not authenticated")
	// ErrRateLimited: rate_limited; nothing was done, retry after
	// APIError.RetryAfter.
	ErrRateLimited = errors.New("client: rate limited")
	// ErrUnavailable: unavailable, storage_unavailable or not_leader
	// (nothing was stored; retry later with the same idempotency key, for
	// not_leader at the node APIError.Leader names); also a 502, 503 or
	// 504 without a problem.
	ErrUnavailable = errors.New("client: index unavailable")
	// ErrBirthDateMismatch: birth_date_mismatch, the youth is registered
	// with another birth date (check the BSN and the birth date).
	ErrBirthDateMismatch = errors.New("client: the youth is registered with another birth date")
	// ErrIdempotencyReused: idempotency_key_reused, the key was used for
	// another report.
	ErrIdempotencyReused = errors.New("client: idempotency key used for another report")
	// ErrWrongMode: bsn_not_accepted, birth_date_not_accepted or
	// youth_not_accepted, the Client's mode (a Blinder or none) is not the
	// deployment's.
	ErrWrongMode = errors.New("client: the index is of the other mode (blind or hmac)")
	// ErrYouthKey: youth_key_required or youth_key_unknown, the key
	// holders' keys the Client's Blinder is configured with are not the
	// index's (a key holder has replaced its key).
	ErrYouthKey = errors.New("client: the index does not take the key holders' keys configured")
	// ErrNotCoordinator: not_coordinator, the institution is involved
	// but is not the case's coordinator (it matches ErrForbidden too).
	ErrNotCoordinator = errors.New("client: not the case's coordinator")
	// ErrNotEligible: not_eligible, the institution named may not
	// coordinate the case (not an actively involved care provider).
	ErrNotEligible = errors.New("client: that institution may not coordinate this case")
	// ErrNoHandover: no_handover, no hand-over of the case is offered to
	// the institution.
	ErrNoHandover = errors.New("client: no hand-over offered")
	// ErrAlreadyAccepted: already_accepted, the coordinator accepted the
	// case and may hand it over, not decline it.
	ErrAlreadyAccepted = errors.New("client: the case was accepted already")
	// ErrEscalationOrder: escalation_out_of_order, the step does not
	// follow the case's current escalation step.
	ErrEscalationOrder = errors.New("client: that escalation step does not follow the current one")
	// ErrNoPlan: no_plan, the case has no plan to add an agreement to.
	ErrNoPlan = errors.New("client: the case has no plan")
	// ErrNoAgreement: no_agreement, the plan has no such agreement the
	// institution may record done.
	ErrNoAgreement = errors.New("client: no such agreement")
)

// apiCodes maps the sentinels to the problem codes they stand for, and to
// statuses when the answer is not a problem (a proxy's). ErrIdentifiesYouth
// is the Client's own refusal too.
var apiCodes = []struct {
	err      error
	codes    []string
	statusIs func(int) bool
}{
	{ErrNotInvolved, []string{"not_involved"}, nil},
	{ErrNotFound, []string{"not_found"}, nil},
	{ErrForbidden, []string{"forbidden", "kind_not_allowed", "unknown_institution", "not_coordinator"}, func(s int) bool { return s == 403 }},
	{ErrNotCoordinator, []string{"not_coordinator"}, nil},
	{ErrNotEligible, []string{"not_eligible"}, nil},
	{ErrNoHandover, []string{"no_handover"}, nil},
	{ErrAlreadyAccepted, []string{"already_accepted"}, nil},
	{ErrEscalationOrder, []string{"escalation_out_of_order"}, nil},
	{ErrNoPlan, []string{"no_plan"}, nil},
	{ErrNoAgreement, []string{"no_agreement"}, nil},
	{ErrUnauthenticated, []string{"unauthenticated", "invalid_token", "unknown_certificate", "credentials_conflict"}, func(s int) bool { return s == 401 }},
	{ErrRateLimited, []string{"rate_limited"}, func(s int) bool { return s == 429 }},
	{ErrUnavailable, []string{"unavailable", "storage_unavailable", "not_leader"}, func(s int) bool { return s == 502 || s == 503 || s == 504 }},
	{ErrBirthDateMismatch, []string{"birth_date_mismatch"}, nil},
	{ErrIdempotencyReused, []string{"idempotency_key_reused"}, nil},
	{ErrIdentifiesYouth, []string{"field_identifies_youth", "client_ref_identifies_youth"}, nil},
	{ErrWrongMode, []string{"bsn_not_accepted", "birth_date_not_accepted", "youth_not_accepted"}, nil},
	{ErrYouthKey, []string{"youth_key_required", "youth_key_unknown"}, nil},
}
