//! Neural-network engine throughput on the shipped LeNet and MNIST, on all cores (set RAYON_NUM_THREADS
//! to pin the count): clean inference over the 10k test images, the sensitivity pass over the 60k
//! training images, and one training epoch.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use uswim::nn::train::{TrainConfig, train};
use uswim::nn::{Dataset, Split, model_file, zoo};
use uswim::sensitivity::analyze;

fn lenet() -> uswim::nn::Network {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lenet_mnist.safetensors");
    model_file::load(Some("lenet"), &path)
        .expect("the shipped model loads")
        .0
}

fn inference(c: &mut Criterion) {
    let net = lenet();
    let test = Dataset::load("mnist", Split::Test).expect("MNIST ships in data/");
    let mut g = c.benchmark_group("nn");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("lenet_inference_mnist_test_10k", |b| {
        b.iter(|| black_box(net.accuracy(&test).unwrap()))
    });
    g.finish();
}

fn sensitivity(c: &mut Criterion) {
    let net = lenet();
    let train_set = Dataset::load("mnist", Split::Train).expect("MNIST ships in data/");
    let mut g = c.benchmark_group("nn_slow");
    g.sample_size(10).measurement_time(Duration::from_secs(60));
    g.bench_function("lenet_sensitivity_mnist_train_60k", |b| {
        b.iter(|| black_box(analyze(&net, &train_set, |_, _| {}).unwrap()))
    });
    g.bench_function("lenet_train_one_epoch_mnist_60k", |b| {
        b.iter(|| {
            let mut net = zoo::build("lenet").unwrap();
            net.initialize(1);
            black_box(train(&mut net, &train_set, &TrainConfig::default(), |_| {}).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, inference, sensitivity);
criterion_main!(benches);
