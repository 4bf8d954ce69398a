// pure: the facts of a stop as ECS states them (plain data); no I/O.
//! What ECS says about a stopped task, from an event or from DescribeTasks: the stop code, the
//! stopped reason and each container's end.

phoenix_core::string_enum! {
    /// ECS `stopCode`.
    pub enum StopCode {
        TaskFailedToStart = "TaskFailedToStart",
        EssentialContainerExited = "EssentialContainerExited",
        UserInitiated = "UserInitiated",
        ServiceSchedulerInitiated = "ServiceSchedulerInitiated",
        SpotInterruption = "SpotInterruption",
        TerminationNotice = "TerminationNotice",
        InfrastructureHealth = "InfrastructureHealth",
    }
}

/// One container's end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i64>,
    pub reason: Option<String>,
    pub image: Option<String>,
}

/// What ECS says about a stop (from an event or from DescribeTasks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StopFacts {
    pub stop_code: Option<StopCode>,
    pub stopped_reason: String,
    pub containers: Vec<ContainerExit>,
}
