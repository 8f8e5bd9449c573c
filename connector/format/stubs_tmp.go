package format

type avroPlan struct{}
type protoPlan struct{}

func compileAvro(Config) (*avroPlan, error)         { return nil, nil }
func compileProto(Config) (*protoPlan, error)       { return nil, nil }
func newAvroDecoder(*avroPlan, committer) Decoder   { return nil }
func newProtoDecoder(*protoPlan, committer) Decoder { return nil }
