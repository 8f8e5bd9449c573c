package format

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-db/sluice/sqlerr"
)

// The Confluent wire format frames each record as
//
//	+------+-------------------+-----------------------------+
//	| 0x00 | schema id (u32 BE)| payload (Avro or protobuf)  |
//	+------+-------------------+-----------------------------+
//
// and protobuf payloads start with the message indexes (see protobuf.go).
// Writer schemas are fetched from the registry by id with franz-go's sr
// client and compiled once per id for the stream's columns; the compiled
// form is shared by every decoder of the Format.

// registryRetry is how long a failed fetch is remembered: records of that
// schema id fail fast (to the dead letters) until then, and the registry is
// not asked again for every record while it is down.
const registryRetry = time.Second

// registryTimeout bounds one fetch.
const registryTimeout = 10 * time.Second

type registry struct {
	cl *sr.Client
	// compile turns a fetched schema into the format's compiled form.
	compile func(ctx context.Context, s sr.Schema) (any, error)

	mu  sync.Mutex
	ids map[uint32]*regEntry
}

type regEntry struct {
	ready chan struct{} // closed when val/err are set
	val   any
	err   error
	at    time.Time // when the fetch failed (retried after registryRetry)
}

func newRegistry(opts map[string]string, compile func(context.Context, sr.Schema) (any, error)) (*registry, error) {
	cl, err := RegistryClient(opts)
	if err != nil {
		return nil, err
	}
	return &registry{cl: cl, compile: compile, ids: map[uint32]*regEntry{}}, nil
}

// RegistryClient returns a client of the schema registry that options
// schema_registry (URLs), schema_registry_username and
// schema_registry_password name.
func RegistryClient(opts map[string]string) (*sr.Client, error) {
	var urls []string
	for _, u := range strings.Split(opts[OptSchemaRegistry], ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, errOption("invalid value for option %s: \"%s\" is not an http(s) URL", OptSchemaRegistry, u)
		}
		urls = append(urls, strings.TrimSuffix(u, "/"))
	}
	if len(urls) == 0 {
		return nil, errOption("option %s needs at least one URL", OptSchemaRegistry)
	}
	clOpts := []sr.ClientOpt{sr.URLs(urls...), sr.UserAgent("sluice")}
	if user, ok := opts[OptRegistryUser]; ok {
		clOpts = append(clOpts, sr.BasicAuth(user, opts[OptRegistryPassword]))
	}
	cl, err := sr.NewClient(clOpts...)
	if err != nil {
		return nil, errOption("%s: %v", OptSchemaRegistry, err)
	}
	return cl, nil
}

// get returns the compiled schema of id, fetching it on first use. One
// goroutine fetches; the others wanting the same id wait for it.
func (r *registry) get(id uint32) (any, error) {
	r.mu.Lock()
	e, ok := r.ids[id]
	if ok {
		select {
		case <-e.ready:
			if e.err != nil && time.Since(e.at) >= registryRetry {
				ok = false // retry a failed fetch
			}
		default:
		}
	}
	if !ok {
		e = &regEntry{ready: make(chan struct{})}
		r.ids[id] = e
		r.mu.Unlock()
		e.val, e.err = r.fetch(id)
		e.at = time.Now()
		close(e.ready)
		return e.val, e.err
	}
	r.mu.Unlock()
	<-e.ready
	return e.val, e.err
}

func (r *registry) fetch(id uint32) (val any, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), registryTimeout)
	defer cancel()
	s, err := r.cl.SchemaByID(ctx, int(id))
	if err != nil {
		return nil, registryError(id, err)
	}
	val, err = r.compile(ctx, s)
	if err != nil {
		if e, ok := sqlerr.As(err); ok {
			return nil, &sqlerr.Error{Code: e.Code, Message: fmt.Sprintf("writer schema %d: %s", id, e.Message), Detail: e.Detail}
		}
		return nil, errRecord(sqlerr.InvalidParameterValue, "writer schema %d: %v", id, err)
	}
	return val, nil
}

// reference fetches a schema that another references, by subject and
// version.
func (r *registry) reference(ctx context.Context, ref sr.SchemaReference) (sr.Schema, error) {
	ss, err := r.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
	if err != nil {
		return sr.Schema{}, fmt.Errorf("reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, err)
	}
	return ss.Schema, nil
}

func registryError(id uint32, err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 {
		return errRecord(sqlerr.UndefinedObject, "schema id %d is not in the schema registry: %s", id, re.Message)
	}
	return errRecord(connectionException, "schema registry: fetching schema id %d: %v", id, err)
}

// confluentHeader reads the magic byte and schema id.
func confluentHeader(rec []byte) (uint32, error) {
	if len(rec) < 5 {
		return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "record of %d bytes is too short for the schema-registry header (magic byte and schema id)", len(rec))
	}
	if rec[0] != 0 {
		return 0, errRecord(sqlerr.InvalidBinaryRepresentation, "record does not start with the schema-registry magic byte 0 (it starts with 0x%02x)", rec[0])
	}
	return binary.BigEndian.Uint32(rec[1:5]), nil
}
