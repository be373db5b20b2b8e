// Classify 28x28 digit images with an edgedigits model through onnxruntime's C++ API.
//
//   read_digit MODEL.onnx DIGIT.pgm...      prints "DIGIT.pgm: 7 (0.99)" per image, as examples/embed_onnxruntime.py
//
// Everything the app needs is read from the .onnx file: the input and output names and the labels are in its
// metadata_props (input_name, output_name, labels as a JSON list). The input contract: float32 [N,28,28,1] =
// uint8 / 255, white ink on black (MNIST). Images are binary PGM (P5), 28x28, 8-bit: any image library would do,
// PGM keeps the example free of dependencies other than onnxruntime.
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

// A 28x28 8-bit binary PGM ("P5 28 28 255", comments allowed) -> 784 pixels.
static std::vector<unsigned char> read_pgm(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::string magic;
    int width = 0, height = 0, maxval = 0;
    in >> magic;
    for (int* field : {&width, &height, &maxval}) {
        in >> std::ws;
        while (in.peek() == '#') { std::string comment; std::getline(in, comment); in >> std::ws; }
        in >> *field;
    }
    in.get();  // the single whitespace byte before the pixels
    if (magic != "P5" || width != 28 || height != 28 || maxval != 255)
        throw std::runtime_error(path + ": expected a 28x28 8-bit binary PGM (P5)");
    std::vector<unsigned char> pixels(28 * 28);
    if (!in.read(reinterpret_cast<char*>(pixels.data()), pixels.size())) throw std::runtime_error(path + ": truncated");
    return pixels;
}

// The labels metadata is a JSON list of strings, e.g. ["0", "1", ...]; a full JSON library is not needed for it.
static std::vector<std::string> parse_labels(const std::string& json) {
    std::vector<std::string> labels;
    for (size_t i = 0; i < json.size(); ++i) {
        if (json[i] != '"') continue;
        std::string label;
        for (++i; i < json.size() && json[i] != '"'; ++i) {
            if (json[i] == '\\' && i + 1 < json.size()) ++i;  // \" and \\ inside a label
            label += json[i];
        }
        labels.push_back(label);
    }
    return labels;
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL.onnx DIGIT.pgm...\n", argv[0]);
        return 2;
    }
    try {
        Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "edgedigits");
        Ort::SessionOptions options;
        options.SetIntraOpNumThreads(1);  // one core is plenty for a 28x28 model
        Ort::Session session(env, argv[1], options);

        Ort::AllocatorWithDefaultOptions allocator;
        Ort::ModelMetadata meta = session.GetModelMetadata();
        auto input_name = meta.LookupCustomMetadataMapAllocated("input_name", allocator);
        auto output_name = meta.LookupCustomMetadataMapAllocated("output_name", allocator);
        auto labels_json = meta.LookupCustomMetadataMapAllocated("labels", allocator);
        if (!input_name || !output_name || !labels_json) throw std::runtime_error("not an edgedigits model: no metadata");
        const std::vector<std::string> labels = parse_labels(labels_json.get());

        const size_t n = argc - 2, pixels = 28 * 28;
        std::vector<float> x(n * pixels);
        for (size_t i = 0; i < n; ++i) {
            const std::vector<unsigned char> image = read_pgm(argv[i + 2]);
            for (size_t j = 0; j < pixels; ++j) x[i * pixels + j] = image[j] / 255.0f;  // the model's normalization
        }
        const std::array<int64_t, 4> shape{static_cast<int64_t>(n), 28, 28, 1};
        auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
        Ort::Value input = Ort::Value::CreateTensor<float>(memory, x.data(), x.size(), shape.data(), shape.size());
        const char* inputs[] = {input_name.get()};
        const char* outputs[] = {output_name.get()};
        auto result = session.Run(Ort::RunOptions{nullptr}, inputs, &input, 1, outputs, 1);

        const float* p = result[0].GetTensorData<float>();  // [N, classes] probabilities
        const size_t classes = result[0].GetTensorTypeAndShapeInfo().GetShape()[1];
        if (classes != labels.size()) throw std::runtime_error("model has more outputs than labels");
        for (size_t i = 0; i < n; ++i) {
            const float* row = p + i * classes;
            const size_t best = std::max_element(row, row + classes) - row;
            std::printf("%s: %s (%.2f)\n", argv[i + 2], labels[best].c_str(), row[best]);
        }
    } catch (const std::exception& e) {  // Ort::Exception included
        std::fprintf(stderr, "read_digit: %s\n", e.what());
        return 2;
    }
    return 0;
}
