package httpapi

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vindex-nl/vindex/letters"
	"github.com/vindex-nl/vindex/matcher"
)

// The duty to inform: a report's informed or not_informed, PATCH
// /v1/registrations/{id} to record one later, and GET
// /v1/registrations/{id}/letter for the informing letter.

// informOf turns a request's informed and not_informed into the matcher's
// record, with the day in loc; the zero record if neither is given.
func informOf(in *InformedJSON, not *NotInformedJSON, loc *time.Location) (matcher.Inform, error) {
	var i matcher.Inform
	var err error
	switch {
	case in != nil && not != nil:
		return i, &matcher.FieldError{Field: "informed", Err: matcher.ErrInform}
	case in != nil:
		if i.Who, err = matcher.ParseWhom(in.Who); err != nil {
			return i, err
		}
		if in.On == "" {
			return i, &matcher.FieldError{Field: "informed.on", Err: matcher.ErrInformDate}
		}
		i.On, err = parseDate("informed.on", in.On, loc)
	case not != nil:
		i.Not, err = matcher.ParseNotInformed(not.Reason)
	}
	return i, err
}

// inform records the duty to inform on the caller's own registration.
func (h *Handler) inform(r *http.Request, actor matcher.Actor) (any, int, error) {
	var req InformRequest
	if err := h.decode(r, &req, false); err != nil {
		return nil, 0, err
	}
	i, err := informOf(req.Informed, req.NotInformed, h.loc)
	if err != nil {
		return nil, 0, err
	}
	id, err := h.registration(r)
	if err != nil {
		return nil, 0, err
	}
	if err := h.m.RecordInformed(r.Context(), actor, id, i); err != nil {
		return nil, 0, err
	}
	return nil, http.StatusNoContent, nil
}

// letter answers the informing letter of the caller's own live
// registration: HTML if the client accepts text/html, text otherwise.
func (h *Handler) letter(r *http.Request, actor matcher.Actor) (any, int, error) {
	id, err := h.registration(r)
	if err != nil {
		return nil, 0, err
	}
	l, err := h.m.Letter(r.Context(), actor, id)
	if err != nil {
		return nil, 0, err
	}
	out, err := letters.Informing(letters.Inform{
		To: l.Whom.String(), Institution: l.InstitutionName, SignalCode: l.SignalCode, SignalLabel: l.SignalLabel,
		Since: l.Since.In(h.loc), EndsOn: l.EndsOn, Municipality: l.MunicipalityName, MunicipalityCode: l.Municipality,
		ContactName: l.Contact.Name, ContactPhone: l.Contact.Phone, ContactEmail: l.Contact.Email, Region: l.Region,
	})
	if err != nil {
		return nil, 0, err
	}
	if acceptsHTML(r.Header.Values("Accept")) {
		return document{contentType: "text/html; charset=utf-8", body: []byte(out.HTML), vary: "Accept"}, http.StatusOK, nil
	}
	return document{contentType: "text/plain; charset=utf-8", body: []byte(out.Text), vary: "Accept"}, http.StatusOK, nil
}

// acceptsHTML reports whether an Accept header names text/html with a
// quality above 0.
func acceptsHTML(accept []string) bool {
	for _, a := range accept {
		for part := range strings.SplitSeq(a, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "text/html" {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
