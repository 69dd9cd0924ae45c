package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client reaches a running server's dead-letter routes with an ops token; it offers what
// Service does.
type Client struct {
	// BaseURL is the server's, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token is an ops bearer token.
	Token string
	// HTTP defaults to a client with a one-minute timeout.
	HTTP *http.Client
}

// List returns a page of dead letters (see Service.List).
func (c *Client) List(ctx context.Context, cursor string, limit int) (Page, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/ops/dlq"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p Page
	return p, c.do(ctx, http.MethodGet, path, nil, &p)
}

// Show returns one dead letter in full (see Service.Show).
func (c *Client) Show(ctx context.Context, id string) (Detail, error) {
	var d Detail
	return d, c.do(ctx, http.MethodGet, "/v1/ops/dlq/"+url.PathEscape(id), nil, &d)
}

// Redrive redrives the dead letters ids (see Service.Redrive).
func (c *Client) Redrive(ctx context.Context, ids []string) (RedriveResult, error) {
	var r RedriveResult
	return r, c.do(ctx, http.MethodPost, "/v1/ops/dlq/redrive", RedriveRequest{IDs: ids}, &r)
}

// RedriveAll redrives every dead letter (see Service.RedriveAll).
func (c *Client) RedriveAll(ctx context.Context) (RedriveResult, error) {
	var r RedriveResult
	return r, c.do(ctx, http.MethodPost, "/v1/ops/dlq/redrive", RedriveRequest{All: true}, &r)
}

// do sends a request and decodes a 2xx answer into out; any other answer is an error carrying
// the problem's detail, wrapping ErrNotFound for a 404.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("dlq: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("dlq: read answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
			Errors []struct {
				Message  string `json:"message"`
				Location string `json:"location"`
			} `json:"errors"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &p) == nil && p.Detail != "" {
			msg = p.Detail
			for _, e := range p.Errors {
				msg += "; " + e.Location + ": " + e.Message
			}
		}
		err := fmt.Errorf("dlq: the server answered %s %s with %d: %s", method, path, resp.StatusCode, msg)
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("dlq: decode answer to %s %s: %w", method, path, err)
	}
	return nil
}
