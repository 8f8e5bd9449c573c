package engine

import (
	"sync"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/storage"
)

// damagedRelations are the tables and streams whose stored rows could not
// be opened at start (a corrupt history log or row). The server runs on
// without them: reading, writing or viewing one fails with XX001, naming it
// and the way out (DROP and CREATE it again), and every other relation and
// view works as before.
type damagedRelations struct {
	mu   sync.Mutex
	errs map[uint32]*sqlerr.Error
}

// add records that relation t could not be opened because of err.
func (d *damagedRelations) add(t *catalog.Table, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.errs == nil {
		d.errs = map[uint32]*sqlerr.Error{}
	}
	noun := "table"
	if t.Kind == catalog.KindStream {
		noun = "stream"
	}
	hint := "DROP " + noun + " " + t.Name + " (with CASCADE, its views) and create it again"
	if hasSource(t) {
		hint += "; its source reads its events again"
	}
	d.errs[t.ID] = sqlerr.New(sqlerr.DataCorrupted, "%s \"%s\" is damaged and cannot be read: %v", noun, t.Name, err).
		WithHint("%s.", hint)
}

// err returns why relation id is damaged, nil when it is not.
func (d *damagedRelations) err(id uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.errs[id]; ok {
		return e
	}
	return nil
}

// forget drops relation id from the damaged ones (it was dropped).
func (d *damagedRelations) forget(id uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.errs, id)
}

// storedTable returns the storage table of table or stream id, or why it
// has none: damaged (XX001), or gone (notFound's error).
func (e *Engine) storedTable(id uint32, notFound func() error) (*storage.Table, error) {
	if t, ok := e.db.Table(id); ok {
		return t, nil
	}
	if err := e.damaged.err(id); err != nil {
		return nil, err
	}
	return nil, notFound()
}
