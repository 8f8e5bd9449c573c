package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicKeeper makes the embedded broker keep the topics it creates on the
// fly. kfake writes a topic it creates because a client asked for it by
// name (auto-creation) to its topic list only at a clean shutdown, so after
// a crash the topic, and every record acknowledged in it, was gone. The
// keeper answers produce requests for a topic it has not seen written with
// REQUEST_TIMED_OUT, which clients retry after a short backoff (without the
// metadata refresh other errors wait for), while it has the broker write its
// topic list (an empty IncrementalAlterConfigs on any topic writes all of
// them); from then on the topic's records are acknowledged as usual.
type topicKeeper struct {
	adm *kadm.Client
	cl  *kgo.Client

	mu sync.Mutex
	// kept and pending hold topics by name and by id: newer produce
	// requests name a topic by its id only.
	kept    map[topicRef]bool
	pending map[topicRef]bool
	// ready: the topics present at start are known and written; until
	// then every produce request is held.
	ready  bool
	ctx    context.Context
	cancel context.CancelFunc
}

// holdProduce installs a keeper on c that holds every produce request
// until start: the broker must first end the transactions a crash left
// open (abortOpenTransactions), with no client writing meanwhile.
func holdProduce(c *kfake.Cluster) (*topicKeeper, error) {
	// Its topic listings must not come from kgo's metadata cache, which
	// holds them for MetadataMinAge (5 s by default).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		return nil, err
	}
	k := &topicKeeper{adm: kadm.NewClient(cl), cl: cl, kept: map[topicRef]bool{}, pending: map[topicRef]bool{}}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return k.hold(req.(*kmsg.ProduceRequest))
	})
	return k, nil
}

// start writes the topics the broker holds now (those loaded from its data
// directory, and any a client created since the broker started listening)
// and lets produce requests to them through.
func (k *topicKeeper) start() error {
	ctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
	defer cancel()
	topics, err := k.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return err
	}
	if len(topics) > 0 {
		if err := k.writeTopicList(ctx, topics.Names()[0]); err != nil {
			return fmt.Errorf("writing the topic list: %w", err)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for name, td := range topics {
		k.kept[topicRef{name: name}] = true
		k.kept[topicRef{id: td.ID}] = true
	}
	k.ready = true
	return nil
}

// writeTopicList has the broker write its list of topics (all of them),
// by an empty configuration change of the topic name.
func (k *topicKeeper) writeTopicList(ctx context.Context, name string) error {
	resp, err := k.adm.AlterTopicConfigs(ctx, nil, name)
	if err != nil {
		return err
	}
	r, err := resp.On(name, nil)
	if err != nil {
		return err
	}
	return r.Err
}

// topicRef names a topic by name, or by id when name is empty.
type topicRef struct {
	name string
	id   [16]byte
}

// hold answers a produce request that writes to a topic not yet kept, and
// starts keeping it; other requests go on to the broker.
func (k *topicKeeper) hold(req *kmsg.ProduceRequest) (kmsg.Response, error, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	held := false
	for _, t := range req.Topics {
		ref := topicRef{name: t.Topic}
		if t.Topic == "" {
			ref = topicRef{id: t.TopicID}
		}
		if !k.ready {
			held = true
			continue
		}
		if k.kept[ref] {
			continue
		}
		held = true
		if !k.pending[ref] {
			k.pending[ref] = true
			go k.keep(ref)
		}
	}
	if !held {
		return nil, nil, false
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.RequestTimedOut.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, true
}

// keep has the broker write its topic list once it lists the topic ref
// names, and keeps every topic listed then.
func (k *topicKeeper) keep(ref topicRef) {
	ctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
	defer cancel()
	listed, err := k.listWith(ctx, ref)
	if err == nil {
		name := ref.name
		if name == "" {
			name = listed.ids[ref.id]
		}
		err = k.writeTopicList(ctx, name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.pending, ref)
	if err != nil {
		return
	}
	for name := range listed.names {
		k.kept[topicRef{name: name}] = true
	}
	for id := range listed.ids {
		k.kept[topicRef{id: id}] = true
	}
}

// listedTopics are the broker's topics by name and by id.
type listedTopics struct {
	names map[string]bool
	ids   map[[16]byte]string
}

// listWith lists the broker's topics until the list holds ref: a topic
// created while its first produce request was on the way may not be
// listed at once. It gives up after a few tries (the client retries its
// produce request, which starts another keep).
func (k *topicKeeper) listWith(ctx context.Context, ref topicRef) (listedTopics, error) {
	for try := 0; ; try++ {
		details, err := k.adm.ListTopicsWithInternal(ctx)
		if err == nil {
			l := listedTopics{names: map[string]bool{}, ids: map[[16]byte]string{}}
			for name, td := range details {
				if td.Err == nil {
					l.names[name] = true
					l.ids[td.ID] = name
				}
			}
			if _, ok := l.ids[ref.id]; l.names[ref.name] || (ref.name == "" && ok) {
				return l, nil
			}
			err = kerr.UnknownTopicOrPartition
		}
		if try == 25 {
			return listedTopics{}, err
		}
		select {
		case <-ctx.Done():
			return listedTopics{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (k *topicKeeper) close() {
	k.cancel()
	k.cl.Close()
}
