package format

type protoPlan struct{}

func compileProto(Config) (*protoPlan, error)       { return nil, nil }
func newProtoDecoder(*protoPlan, committer) Decoder { return nil }
