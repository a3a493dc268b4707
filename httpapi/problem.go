package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/vindex-nl/vindex/crypto/oprf"
	"github.com/vindex-nl/vindex/identity"
	"github.com/vindex-nl/vindex/matcher"
)

// Problem is an RFC 9457 problem detail, the body of every error response
// (media type application/problem+json). Code is stable: client systems
// branch on it, not on Title or Detail, whose wording may change. Detail
// never quotes a BSN or a birth date.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code is the stable, machine-readable error code.
	Code string `json:"code"`
	// Field names the request field the problem is about, if any.
	Field string `json:"field,omitempty"`
	// Leader names, with not_leader, the node of a replicated index that
	// leads (as the operator named it), if this node knows it.
	Leader string `json:"leader,omitempty"`
}

// ProblemTypePrefix is the prefix of every problem's type URI; the code
// follows it.
const ProblemTypePrefix = "urn:vindex:problem:"

// The stable problem codes.
const (
	CodeInvalidBSN            = "invalid_bsn"
	CodeInvalidBirthDate      = "invalid_birth_date"
	CodeNotAYouth             = "not_a_youth"
	CodeInvalidMunicipality   = "invalid_municipality"
	CodeUnknownMunicipality   = "unknown_municipality"
	CodeInvalidKind           = "invalid_kind"
	CodeKindNotAllowed        = "kind_not_allowed"
	CodeInvalidSignalCode     = "invalid_signal_code"
	CodeUnknownSignalCode     = "unknown_signal_code"
	CodeInvalidSector         = "invalid_sector"
	CodeInvalidContact        = "invalid_contact"
	CodeInvalidDate           = "invalid_date"
	CodeInvalidIdempotencyKey = "invalid_idempotency_key"
	CodeIdempotencyConflict   = "idempotency_key_conflict"
	CodeIdempotencyReused     = "idempotency_key_reused"
	CodeBirthDateMismatch     = "birth_date_mismatch"
	CodeInvalidReason         = "invalid_reason"
	CodeInvalidScope          = "invalid_scope"
	CodeInvalidClientRef      = "invalid_client_ref"
	CodeClientRefIdentity     = "client_ref_identifies_youth"
	CodeFieldIdentifiesYouth  = "field_identifies_youth"
	CodeClientRefUnsupported  = "client_ref_unsupported"
	CodeInvalidInform         = "invalid_inform"
	CodeInformMismatch        = "inform_mismatch"
	CodeInformRecordRequired  = "inform_record_required"
	CodeInvalidParameter      = "invalid_parameter"
	CodeFiguresNotPublished   = "figures_not_published"
	CodeMalformedJSON         = "malformed_json"
	CodeInvalidJSON           = "invalid_json"
	CodeUnknownField          = "unknown_field"
	CodeBodyTooLarge          = "body_too_large"
	CodeUnsupportedMediaType  = "unsupported_media_type"
	CodeUnauthenticated       = "unauthenticated"
	CodeInvalidToken          = "invalid_token"
	CodeUnknownCertificate    = "unknown_certificate"
	CodeCredentialsConflict   = "credentials_conflict"
	CodeUnknownInstitution    = "unknown_institution"
	CodeForbidden             = "forbidden"
	CodeNotInvolved           = "not_involved"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeRateLimited           = "rate_limited"
	CodeUnavailable           = "unavailable"
	CodeNoCheckpoint          = "no_checkpoint"
	CodeInvalidYouth          = "invalid_youth"
	CodeInvalidBornIn         = "invalid_born_in"
	CodeBSNNotAccepted        = "bsn_not_accepted"
	CodeYouthNotAccepted      = "youth_not_accepted"
	CodeYouthKeyRequired      = "youth_key_required"
	CodeYouthKeyUnknown       = "youth_key_unknown"
	CodeBirthDateNotAccepted  = "birth_date_not_accepted"
	CodeStorageUnavailable    = "storage_unavailable"
	CodeInvalidParents        = "invalid_parents"
	CodeParentIsYouth         = "parent_is_youth"
	CodeInvalidAddress        = "invalid_address"
	CodeAddressNotEnabled     = "address_not_enabled"
	CodeFamilyNotBlind        = "family_not_blind"
	CodeNotLeader             = "not_leader"
	CodeInternal              = "internal"
	CodeInvalidPlanDates      = "invalid_plan_dates"
	CodeNoPlan                = "no_plan"
	CodeAgreementInstitution  = "agreement_institution_not_involved"
	CodeInvalidDue            = "invalid_due"
	CodeTooManyAgreements     = "too_many_agreements"
	CodeNoAgreement           = "no_agreement"
	CodeNotCoordinator        = "not_coordinator"
	CodeNotEligible           = "not_eligible"
	CodeNoHandover            = "no_handover"
	CodeAlreadyAccepted       = "already_accepted"
	CodeInvalidStep           = "invalid_escalation_step"
	CodeEscalationOrder       = "escalation_out_of_order"
	CodeInvalidDecision       = "invalid_decision"
)

// problemError is an error that carries the problem to answer with.
type problemError struct{ p Problem }

func (e *problemError) Error() string { return "httpapi: " + e.p.Code + ": " + e.p.Detail }

func problem(status int, code, field, detail string) *problemError {
	return &problemError{Problem{
		Type:   ProblemTypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
		Field:  field,
	}}
}

// fieldCodes maps the library's input sentinels to problem codes.
var fieldCodes = []struct {
	err    error
	status int
	code   string
}{
	// First: a parent's BSN or an address that does not parse is about
	// the family, not the youth's BSN.
	{matcher.ErrParents, http.StatusBadRequest, CodeInvalidParents},
	{matcher.ErrParentIsYouth, http.StatusUnprocessableEntity, CodeParentIsYouth},
	{matcher.ErrAddress, http.StatusBadRequest, CodeInvalidAddress},
	{matcher.ErrAddressNotEnabled, http.StatusUnprocessableEntity, CodeAddressNotEnabled},
	{matcher.ErrFamilyBlind, http.StatusBadRequest, CodeFamilyNotBlind},
	{matcher.ErrParentElements, http.StatusBadRequest, CodeInvalidParents},
	{matcher.ErrAddressElement, http.StatusBadRequest, CodeInvalidAddress},
	{matcher.ErrIdentifiesParent, http.StatusUnprocessableEntity, CodeFieldIdentifiesYouth},
	{identity.ErrBSNFormat, http.StatusBadRequest, CodeInvalidBSN},
	{identity.ErrBSNChecksum, http.StatusBadRequest, CodeInvalidBSN},
	{matcher.ErrMissingBSN, http.StatusBadRequest, CodeInvalidBSN},
	{matcher.ErrBSNNotAccepted, http.StatusBadRequest, CodeBSNNotAccepted},
	{matcher.ErrYouthNotAccepted, http.StatusBadRequest, CodeYouthNotAccepted},
	{matcher.ErrYouthKeyRequired, http.StatusBadRequest, CodeYouthKeyRequired},
	{matcher.ErrYouthKeyUnknown, http.StatusBadRequest, CodeYouthKeyUnknown},
	{matcher.ErrBirthDateNotAccepted, http.StatusBadRequest, CodeBirthDateNotAccepted},
	{matcher.ErrMissingYouth, http.StatusBadRequest, CodeInvalidYouth},
	{oprf.ErrInvalidElement, http.StatusBadRequest, CodeInvalidYouth},
	{matcher.ErrBornIn, http.StatusBadRequest, CodeInvalidBornIn},
	{identity.ErrBirthDateFormat, http.StatusBadRequest, CodeInvalidBirthDate},
	{identity.ErrBirthDateRange, http.StatusBadRequest, CodeInvalidBirthDate},
	{matcher.ErrMissingBirthDate, http.StatusBadRequest, CodeInvalidBirthDate},
	{matcher.ErrNotAYouth, http.StatusUnprocessableEntity, CodeNotAYouth},
	{identity.ErrMunicipality, http.StatusBadRequest, CodeInvalidMunicipality},
	{matcher.ErrMunicipality, http.StatusUnprocessableEntity, CodeUnknownMunicipality},
	{matcher.ErrKind, http.StatusBadRequest, CodeInvalidKind},
	{matcher.ErrKindNotAllowed, http.StatusForbidden, CodeKindNotAllowed},
	{matcher.ErrSignalCode, http.StatusBadRequest, CodeInvalidSignalCode},
	{matcher.ErrUnknownSignalCode, http.StatusUnprocessableEntity, CodeUnknownSignalCode},
	{matcher.ErrSector, http.StatusBadRequest, CodeInvalidSector},
	{matcher.ErrContact, http.StatusBadRequest, CodeInvalidContact},
	{matcher.ErrContactName, http.StatusBadRequest, CodeInvalidContact},
	{matcher.ErrContactPhone, http.StatusBadRequest, CodeInvalidContact},
	{matcher.ErrContactEmail, http.StatusBadRequest, CodeInvalidContact},
	{matcher.ErrIdentifiesYouth, http.StatusUnprocessableEntity, CodeFieldIdentifiesYouth},
	{matcher.ErrEndsOn, http.StatusBadRequest, CodeInvalidDate},
	{matcher.ErrEndDate, http.StatusBadRequest, CodeInvalidDate},
	{matcher.ErrIdempotencyKey, http.StatusBadRequest, CodeInvalidIdempotencyKey},
	{matcher.ErrIdempotencyReuse, http.StatusConflict, CodeIdempotencyReused},
	{matcher.ErrBirthDateMismatch, http.StatusConflict, CodeBirthDateMismatch},
	{matcher.ErrRemoveReason, http.StatusBadRequest, CodeInvalidReason},
	{matcher.ErrObjectionScope, http.StatusBadRequest, CodeInvalidScope},
	{matcher.ErrEndReason, http.StatusBadRequest, CodeInvalidReason},
	{matcher.ErrUnjustifiedLater, http.StatusBadRequest, CodeInvalidReason},
	{matcher.ErrClientRef, http.StatusBadRequest, CodeInvalidClientRef},
	{matcher.ErrClientRefIdentity, http.StatusUnprocessableEntity, CodeClientRefIdentity},
	{matcher.ErrClientRefUnsupported, http.StatusUnprocessableEntity, CodeClientRefUnsupported},
	{matcher.ErrInform, http.StatusBadRequest, CodeInvalidInform},
	{matcher.ErrInformWho, http.StatusBadRequest, CodeInvalidInform},
	{matcher.ErrNotInformedReason, http.StatusBadRequest, CodeInvalidInform},
	{matcher.ErrInformDate, http.StatusBadRequest, CodeInvalidDate},
	{matcher.ErrInformMismatch, http.StatusUnprocessableEntity, CodeInformMismatch},
	{matcher.ErrInformRecordRequired, http.StatusUnprocessableEntity, CodeInformRecordRequired},
	{matcher.ErrFiguresQuery, http.StatusBadRequest, CodeInvalidParameter},
	{matcher.ErrPlanDates, http.StatusBadRequest, CodeInvalidPlanDates},
	{matcher.ErrNoPlan, http.StatusConflict, CodeNoPlan},
	{matcher.ErrAgreementInstitution, http.StatusUnprocessableEntity, CodeAgreementInstitution},
	{matcher.ErrAgreementDue, http.StatusBadRequest, CodeInvalidDue},
	{matcher.ErrTooManyAgreements, http.StatusConflict, CodeTooManyAgreements},
	{matcher.ErrNoAgreement, http.StatusNotFound, CodeNoAgreement},
	{matcher.ErrAgreementNotYours, http.StatusForbidden, CodeForbidden},
	{matcher.ErrDeclineReason, http.StatusBadRequest, CodeInvalidReason},
	{matcher.ErrNotCoordinating, http.StatusForbidden, CodeNotCoordinator},
	{matcher.ErrNotEligible, http.StatusUnprocessableEntity, CodeNotEligible},
	{matcher.ErrNoHandover, http.StatusConflict, CodeNoHandover},
	{matcher.ErrAlreadyAccepted, http.StatusConflict, CodeAlreadyAccepted},
	{matcher.ErrEscalationStep, http.StatusBadRequest, CodeInvalidStep},
	{matcher.ErrEscalationOrder, http.StatusConflict, CodeEscalationOrder},
	{matcher.ErrDecision, http.StatusBadRequest, CodeInvalidDecision},
}

// toProblem turns any error of a handler into the problem to answer with.
// The library's errors never quote a BSN or birth date; the detail uses
// only the sentinel's text, never a wrapped lower-level error.
func toProblem(err error) *problemError {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe
	}
	var field string
	var fe *matcher.FieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	for _, fc := range fieldCodes {
		if errors.Is(err, fc.err) {
			return problem(fc.status, fc.code, field, fc.err.Error())
		}
	}
	switch {
	case errors.Is(err, matcher.ErrUnknownInstitution):
		return problem(http.StatusForbidden, CodeUnknownInstitution, "", "the authenticated institution is not part of the covenant")
	case errors.Is(err, matcher.ErrNotInvolved):
		return problem(http.StatusNotFound, CodeNotInvolved, "", "your institution has no live registration for this youth")
	case errors.Is(err, matcher.ErrNotFound):
		return problem(http.StatusNotFound, CodeNotFound, "", "no such registration of your institution")
	case errors.Is(err, matcher.ErrNotCoordinator):
		return problem(http.StatusForbidden, CodeForbidden, "", "only the case's coordinator may do this")
	case errors.Is(err, matcher.ErrForbidden):
		return problem(http.StatusForbidden, CodeForbidden, "", "your institution may not do this")
	case errors.Is(err, matcher.ErrFiguresNotPublished):
		return problem(http.StatusNotFound, CodeFiguresNotPublished, "year", "the figures of a year are published once it has closed (from 2 January of the next year)")
	case errors.Is(err, matcher.ErrFiguresUnavailable):
		return problem(http.StatusServiceUnavailable, CodeUnavailable, "", "this index keeps no management figures")
	case errors.Is(err, matcher.ErrNotLeader), errors.Is(err, matcher.ErrFenced):
		return problem(http.StatusServiceUnavailable, CodeNotLeader, "", "this node of a replicated index does not lead now and takes no writes; nothing of this request was stored; send it to the leader, with the same idempotency key")
	case errors.Is(err, matcher.ErrUnavailable):
		return problem(http.StatusServiceUnavailable, CodeStorageUnavailable, "", "the index cannot store anything now (disk space low or a disk failure); nothing of this request was stored; retry later with the same idempotency key")
	case errors.Is(err, matcher.ErrClosed), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusServiceUnavailable, CodeUnavailable, "", "the index is shutting down or overloaded; retry with the same idempotency key")
	}
	return problem(http.StatusInternalServerError, CodeInternal, "", "internal error; it has been logged")
}

func writeProblem(w http.ResponseWriter, p *problemError) {
	b, err := json.Marshal(p.p)
	if err != nil {
		b = []byte(`{"type":"urn:vindex:problem:internal","title":"Internal Server Error","status":500,"code":"internal"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	switch p.p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="vindex"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "10")
	}
	w.WriteHeader(p.p.Status)
	w.Write(b)
}
