//! What the scheduler places a job by — its queue, its hosts list and its
//! resource request — held once per distinct value (like the environments
//! in `env_pool`), so that two jobs the scheduler would place alike are
//! told apart by comparing two pointers, without reading their requests.

use proto::mbd::SubmitRequest;
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// The queue's position in the configuration (`None`: no longer
    /// configured).
    pub queue_pos: Option<usize>,
    /// `--machines` expanded to host positions (`None`: it names a host
    /// or group no longer configured, so the job cannot be placed as asked).
    pub machines: Option<Vec<usize>>,
    /// The request's cpus, nhosts, mem, storage, gpus, exclusive, GPU
    /// model and tokens: the identity, copied out of the request.
    sizes: (u32, u32, u64, u64, u32, bool),
    gpu_model: String,
    tokens: Vec<(String, u32)>,
}

impl Shape {
    pub fn new(queue_pos: Option<usize>, machines: Option<Vec<usize>>, r: &SubmitRequest) -> Shape {
        Shape {
            queue_pos,
            machines,
            sizes: (
                r.cpus,
                r.nhosts,
                r.mem_mb,
                r.storage_mb,
                r.gpus,
                r.exclusive,
            ),
            gpu_model: r.gpu_model.clone(),
            tokens: (r.tokens.iter())
                .map(|t| (t.pool.clone(), t.count))
                .collect(),
        }
    }

    /// The same request in another queue (`bmove`).
    pub fn in_queue(&self, queue_pos: Option<usize>) -> Shape {
        Shape {
            queue_pos,
            ..self.clone()
        }
    }
}

/// The distinct shapes the jobs held have.
#[derive(Debug, Default)]
pub struct ShapePool {
    shapes: HashSet<Arc<Shape>>,
}

impl ShapePool {
    pub fn intern(&mut self, shape: Shape) -> Arc<Shape> {
        if let Some(known) = self.shapes.get(&shape) {
            return Arc::clone(known);
        }
        let shape = Arc::new(shape);
        self.shapes.insert(Arc::clone(&shape));
        shape
    }

    /// Forgets the shapes no job has any more (after compaction).
    pub fn sweep(&mut self) {
        self.shapes.retain(|s| Arc::strong_count(s) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alike_requests_share_one_shape_until_no_job_holds_it() {
        let mut pool = ShapePool::default();
        let small = SubmitRequest {
            cpus: 1,
            command: "a".into(),
            ..SubmitRequest::default()
        };
        let other_command = SubmitRequest {
            command: "b".into(),
            ..small.clone()
        };
        let big = SubmitRequest {
            cpus: 8,
            ..small.clone()
        };
        let a = pool.intern(Shape::new(Some(0), Some(vec![]), &small));
        let b = pool.intern(Shape::new(Some(0), Some(vec![]), &other_command));
        let c = pool.intern(Shape::new(Some(0), Some(vec![]), &big));
        let d = pool.intern(Shape::new(Some(1), Some(vec![]), &small));
        assert!(Arc::ptr_eq(&a, &b), "the command does not matter");
        assert!(!Arc::ptr_eq(&a, &c) && !Arc::ptr_eq(&a, &d));
        drop((b, c, d));
        pool.sweep();
        assert_eq!(pool.shapes.len(), 1, "only a's shape is still held");
    }
}
