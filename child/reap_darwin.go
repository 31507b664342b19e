package child

// darwin has no child subreaper: an orphan of the child is reparented to
// launchd, which reaps it. shroud reaps only its child (see reapChild); the
// other children it has are its own os/exec ones (a notify command, an
// SDK's credential_process), which their Wait reaps.

func becomeSubreaper() error { return nil }

func (l *loop) reapOrphans() {}
